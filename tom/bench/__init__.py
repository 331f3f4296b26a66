"""`tom bench`: scripted callers over the Twilio protocol, measured from both ends.

Submodules: corpus (what callers say), synth (their voices), caller (the phone line),
wer and mojibake (what TOM heard and wrote), report (figures against targets), run (the loop).
"""
