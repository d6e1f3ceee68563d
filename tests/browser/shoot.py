"""Screenshots of the page for design review: python -m tests.browser.shoot URL OUT_PREFIX [step ...].
Steps: fail (readiness-fail the first ready pod), relabel, scale=N, drop, wait=SECONDS, panel."""

from __future__ import annotations

import sys
import time

from tests.browser.browser import chromium_context


def main(argv: list[str]) -> None:
    url, prefix, steps = argv[0], argv[1], argv[2:]
    for width, height in ((1600, 900), (1280, 720)):
        with chromium_context(viewport={"width": width, "height": height}) as ctx:
            page = ctx.new_page()
            page.on("console", lambda m: print("console:", m.type, m.text))
            page.on("pageerror", lambda e: print("pageerror:", e))
            page.goto(url)
            page.wait_for_selector(".chip.state-ready")
            for step in steps:
                if step == "fail":
                    page.click("#services .chip.state-ready[data-pod-key] >> nth=1")
                    page.click("[data-action=readiness-fail]")
                    page.click(".panel-close")
                elif step == "relabel":
                    page.click("#services .chip.state-ready[data-pod-key] >> nth=0")
                    page.fill(".relabel-input", "debug")
                    page.click("[data-action=relabel]")
                    page.click(".panel-close")
                elif step.startswith("scale="):
                    card = page.locator('.svc[data-key="default/web-svc"]')
                    card.locator(".scale-input").fill(step.split("=")[1])
                    card.locator(".scale button").click()
                elif step == "drop":
                    page.request.post(url.rstrip("/") + "/api/debug/drop-streams")
                elif step.startswith("wait="):
                    time.sleep(float(step.split("=")[1]))
                elif step.startswith("scrollto="):
                    page.locator(f'.svc[data-key="{step.split("=", 1)[1]}"]').scroll_into_view_if_needed()
                    page.evaluate("() => window.scrollBy(0, -80)")
                elif step == "panel":
                    page.click("#services .chip[data-pod-key] >> nth=0")
                    page.wait_for_selector(".explain-body[data-state]")
                    time.sleep(0.5)
            time.sleep(0.8)
            page.screenshot(path=f"{prefix}-{width}x{height}.png")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
