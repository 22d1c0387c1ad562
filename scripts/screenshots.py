"""Screenshots of the demo for the README, taken from a running ``make run``.

    make run                                    # in one terminal (demo data, port 8000)
    .venv/bin/python scripts/screenshots.py     # in another; writes docs/screenshots/*.png

Desktop pages as the demo manager, phone pages (390 px) as member1. Needs Debian's chromium."""

import argparse
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.browser.chromium import CHROMIUM, chromium_launch  # noqa: E402 - after the path

STAFF = [
    ("staff-home-manager", "/staff/"),
    ("staff-kpi", "/staff/kpi/"),
    ("staff-customers", "/staff/customers/"),
    ("staff-liability", "/staff/loyalty/liability/"),
]
MEMBER = [
    ("portal-overview-phone", "/me/"),
    ("portal-points-phone", "/me/points/"),
    ("portal-rewards-phone", "/me/rewards/"),
]


def _login(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    # The page leads with the mobile-number form (its own submit): press the password form's.
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def _save(path: Path, width: int) -> None:
    """Scale down and reduce to 256 colours: a README image, not a photograph."""
    image = Image.open(path).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="clientele-demo")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = chromium_launch(pw, executable_path=args.chromium)
        desktop = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
        page = desktop.new_page()
        _login(page, args.base, "manager@example.com", args.password)
        for name, url in STAFF:
            page.goto(args.base + url)
            page.wait_for_timeout(800)  # let Chart.js draw
            page.screenshot(path=out / f"{name}.png")
            _save(out / f"{name}.png", 1100)
        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="en-US",
        )
        page = phone.new_page()
        _login(page, args.base, "member1@example.com", args.password)
        for name, url in MEMBER:
            page.goto(args.base + url)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=out / f"{name}.png")
            _save(out / f"{name}.png", 390)
        browser.close()
    print(f"Screenshots written to {out}")


if __name__ == "__main__":
    main()
