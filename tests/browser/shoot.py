"""Screenshots of the page for design review: python -m tests.browser.shoot URL OUT_PREFIX [step ...].
Steps: fail (readiness-fail the first ready pod), relabel, scale=N, drop, wait=SECONDS, panel,
dark, light, lesson=NAME (open the lesson panel and start it), next (the → key), traffic=SERVICE_KEY,
console=COMMAND (open the console and run it)."""

from __future__ import annotations

import sys
import time
from urllib.parse import parse_qs, urlsplit

from tests.browser.browser import chromium_context


def main(argv: list[str]) -> None:
    url, prefix, steps = argv[0], argv[1], argv[2:]
    token = parse_qs(urlsplit(url).query).get("token", [""])[0]
    headers = {"X-Slicescope-Token": token} if token else {}
    url = url.split("?", 1)[0] if token else url
    for width, height in ((1600, 900), (1280, 720)):
        with chromium_context(viewport={"width": width, "height": height}) as ctx:
            page = ctx.new_page()
            page.on("console", lambda m: print("console:", m.type, m.text))
            page.on("pageerror", lambda e: print("pageerror:", e))
            page.goto(url + (f"?token={token}" if token else ""))
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
                elif step in ("dark", "light"):
                    page.evaluate(f"() => localStorage.setItem('slicescope.theme', '{step}')")
                    page.reload()
                    page.wait_for_selector(".chip.state-ready")
                elif step.startswith("lesson="):
                    page.request.post(url.rstrip("/") + "/api/scenarios/stop", headers=headers)
                    page.wait_for_selector("#lesson:not([data-active=yes])", state="attached")
                    page.click("[data-part=lesson-toggle]")
                    page.select_option("#lesson [data-part=pick]", step.split("=", 1)[1])
                    page.click("#lesson [data-part=start]")
                    page.wait_for_selector("#lesson[data-active=yes]")
                elif step == "next":
                    page.keyboard.press("ArrowRight")
                    time.sleep(0.3)
                    page.wait_for_function(
                        "() => !document.querySelector('#lesson[data-pending]') &&"
                        " document.querySelector('#lesson [data-part=busy]').hidden",
                        timeout=60000,
                    )
                    time.sleep(0.6)
                elif step.startswith("traffic="):
                    key = step.split("=", 1)[1]
                    page.click(f'.svc[data-key="{key}"] [data-part=traffic-toggle]')
                elif step.startswith("console="):
                    page.click("[data-part=console-toggle]")
                    page.fill("#console-input", step.split("=", 1)[1])
                    page.press("#console-input", "Enter")
                    page.wait_for_selector("#console:not([data-running])")
                elif step == "panel":
                    page.click("#services .chip[data-pod-key] >> nth=0")
                    page.wait_for_selector(".explain-body[data-state]")
                    time.sleep(0.5)
            time.sleep(0.8)
            page.screenshot(path=f"{prefix}-{width}x{height}.png")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
