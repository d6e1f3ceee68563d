"""kubectl in the page for the simulated cluster: parse (what may run), runner (the real kubectl
binary against the sim's API), routes (POST /api/console/run, /api/console/stream). See docs/console.md."""

from app.console.routes import ConsoleContext, console_router, local_api_url

__all__ = ["ConsoleContext", "console_router", "local_api_url"]
