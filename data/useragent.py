"""A browser's User-Agent header as "Firefox 132 on Windows": enough for an agent, no library needed.

Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", every one says "Mozilla".
"""

import re

BROWSERS = [
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"(?:OPR|Opera)/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome (headless)", r"HeadlessChrome/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
]
SYSTEMS = [
    ("Windows", r"Windows NT"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
]


def describe(user_agent):
    """Describe a User-Agent as e.g. "Chrome 130 on Android"; unknown parts say so."""
    user_agent = user_agent or ""
    browser = "Unknown browser"
    for name, pattern in BROWSERS:
        found = re.search(pattern, user_agent)
        if found:
            browser = f"{name} {found.group(1)}"
            break
    system = next((name for name, pattern in SYSTEMS if re.search(pattern, user_agent)), "")
    return f"{browser} on {system}" if system else browser
