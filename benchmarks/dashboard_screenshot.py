"""A PNG of the labelling app's dashboard, taken in headless Chromium (for the README).

Point it at a live run's app (e.g. one of ``annotator_reliability.py``'s runs, whose annotators are labelling
while PPO trains) and it waits until the plots have been drawn with data, then saves the whole page.

    .venv/bin/python benchmarks/dashboard_screenshot.py --url http://127.0.0.1:PORT/ --out benchmarks/results/dashboard.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the app's base URL (as the run prints it)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/dashboard.png"))
    parser.add_argument("--min-curve-points", type=int, default=2, help="wait until the learning curve has this many points")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(args.url.rstrip("/") + "/dashboard")
        page.wait_for_function(f"Number(document.querySelector('#plot-curve').dataset.points || 0) >= {args.min_curve_points}",
                               timeout=600_000)
        page.wait_for_timeout(500)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
