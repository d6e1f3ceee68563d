"""Web hardening for the whole app: Host check, same-origin rule for changes, request body limits,
bounded JSON and YAML loading, and secrets kept out of logs (SECURITY.md explains the model)."""
