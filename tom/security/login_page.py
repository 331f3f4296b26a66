"""The tiny page an operator sees at `/` before logging in (no external files, no framework)."""

from __future__ import annotations

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TOM · sign in</title>
<style>
 body{{font-family:system-ui,sans-serif;background:#f4f5f7;display:grid;place-items:center;
  min-height:100vh;margin:0}}
 form{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:18rem}}
 h1{{font-size:1.2rem;margin:0 0 1rem}} label{{display:block;margin-bottom:.3rem}}
 input{{width:100%;box-sizing:border-box;padding:.5rem;margin-bottom:1rem}}
 button{{padding:.5rem 1rem}} #error{{color:#b00020;min-height:1.2em}}
</style></head>
<body><form id="login">
<h1>TOM operator sign-in</h1>
<label for="secret">{label}</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Sign in</button>
<p id="error" role="alert"></p>
</form>
<script>
document.getElementById("login").addEventListener("submit", async (e) => {{
  e.preventDefault();
  const err = document.getElementById("error");
  err.textContent = "";
  try {{
    const r = await fetch("/api/login", {{method: "POST", credentials: "same-origin",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{{field}: document.getElementById("secret").value}})}});
    if (r.ok) {{ location.reload(); return; }}
    const body = await r.json().catch(() => ({{}}));
    err.textContent = body.error || ("Sign-in failed (" + r.status + ")");
  }} catch (x) {{ err.textContent = "TOM cannot be reached: " + x; }}
}});
</script></body></html>
"""


def login_page(use_password: bool) -> str:
    """The form posts {"password"} when a password is configured, else {"token"}."""
    if use_password:
        return _PAGE.format(label="Password", field='"password"')
    return _PAGE.format(label="Access token", field='"token"')
