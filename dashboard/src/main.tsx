import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { BrowserPhone } from "./phone/browserPhone";
import "./styles/dashboard.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html lacks #root");

createRoot(root).render(
  <StrictMode>
    <App createPhone={(listener) => new BrowserPhone(listener)} />
  </StrictMode>,
);
