"""The one rule that hides small counts, in every report: pages, CSV files and the PDF."""
from flask import current_app


def masked(count: int) -> str | int:
    """A count from 1 to the threshold − 1 could single a person out: shown as "< 5"."""
    below = current_app.config["REPORT_SMALL_COUNT"]
    return f"< {below}" if 0 < count < below else count
