"""``redline report --pdf FILE.pdf``: the report's own HTML page, laid out as PDF by WeasyPrint.

The PDF is the HTML report (``redline.dashboard.report``) printed, not a second layout: the same
sections, tables and figures, the sparklines drawn from their inline SVG as vector paths.
WeasyPrint lays out HTML and CSS and draws SVG itself, with no browser to download; it needs
Pango (Debian: ``libpango-1.0-0``, ``libpangoft2-1.0-0``) and a font (``fonts-dejavu-core``), and it
is an optional extra, ``pip install 'redline[pdf]'``: the report's other users should not carry
it. Nothing is fetched: the page names no URL, and the fetcher refuses any URL all the same.
"""

from __future__ import annotations

from typing import Final

from redline.kernel.errors import RedlineError

__all__ = ["PAGE_CSS", "PDF_EXTRA", "PdfUnavailable", "render_pdf"]

PDF_EXTRA: Final = "pdf"
"""The optional extra that brings WeasyPrint: ``pip install 'redline[pdf]'``."""
PAGE_CSS: Final = """
@page { size: A4 landscape; margin: 12mm }
body { margin: 0; max-width: none; font-family: "DejaVu Sans", sans-serif; font-size: 10pt }
tr { break-inside: avoid } h2, h3 { break-after: avoid }
"""
"""Print layout on top of the page's own style: landscape A4 (the objectives table is wide)."""


class PdfUnavailable(RedlineError):
    """WeasyPrint or the system libraries it needs are missing; the message says what to install."""


def render_pdf(page: str) -> bytes:
    """The HTML report ``page`` as a PDF document.

    Raises ``PdfUnavailable`` naming the extra when WeasyPrint is not installed, or the Debian
    packages when it is but Pango cannot be loaded.
    """
    try:
        import weasyprint
    except ImportError as exc:
        raise PdfUnavailable(
            f"PDF output needs WeasyPrint, which is not installed ({exc.name or exc}): "
            f"pip install 'redline[{PDF_EXTRA}]'"
        ) from exc
    except OSError as exc:  # the library is there, Pango (a C library it loads at import) is not
        raise PdfUnavailable(
            f"PDF output needs Pango, which WeasyPrint could not load ({exc}): on Debian, "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"
        ) from exc
    # The report is self-contained: a URL in it would be a bug, refused (a warning in WeasyPrint's
    # log, the element left out), never a request. ``data:`` URIs hold their content.
    refuse = weasyprint.URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    document = weasyprint.HTML(string=page, url_fetcher=refuse)
    pdf: bytes = document.write_pdf(stylesheets=[weasyprint.CSS(string=PAGE_CSS)])
    return pdf
