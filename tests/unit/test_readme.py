"""README and docs stay true: the config reference equals what the spec models generate, the README
stays a short front door, and every relative link in README.md and docs/*.md points at a file (and,
for `#anchor` links into markdown, at a heading) that exists."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

from tools.config_reference import END, REFERENCE, START, render

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 12 * 1024


def test_config_reference_matches_spec_models() -> None:
    assert REFERENCE == DOCS / "config-reference.md"
    text = REFERENCE.read_text()
    section = text[text.index(START) : text.index(END) + len(END)]
    assert section == render(), "docs/config-reference.md is stale: run python -m tools.config_reference --write"


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes (limit {README_MAX_BYTES}): move detail to docs/"


# ----------------------------------------------------------------------------------------------------
# Links and GitHub anchors

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (links and headings inside code are not markdown)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                continue
            out.append(line)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)) :]:
            fence = None
    return out


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: rendered text, lower-cased, punctuation dropped (letters, marks,
    digits, `_`, `-` and spaces stay), spaces become `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "")
    text = re.sub(r"(\*\*|\*)(\S(?:.*?\S)?)\1", r"\2", text)  # emphasis markers
    text = re.sub(r"(?<!\w)(__|_)(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)  # (intraword `_` is no emphasis)
    out = []
    for ch in text.strip().lower():
        cat = unicodedata.category(ch)
        if ch in "-_ " or cat[0] in "LMN":
            out.append("-" if ch == " " else ch)
    return "".join(out)


def anchors(path: Path) -> set[str]:
    """Every anchor of a markdown file: its headings (duplicates get -1, -2, ...) and explicit <a id>."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in prose_lines(path.read_text()):
        out.update(_HTML_ANCHOR.findall(line))
        m = _HEADING.match(line)
        if not m:
            continue
        base = github_anchor(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    """Link targets of a markdown file (inline links, images and reference definitions), code excluded."""
    lines = [_INLINE_CODE.sub("", line) for line in prose_lines(path.read_text())]
    out = [m.group(1) for m in _LINK.finditer("\n".join(lines))]  # link text may wrap onto the next line
    out += [m.group(1) for line in lines for m in _REF_DEF.finditer(line)]
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in out]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems: list[str] = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
            continue  # http(s), mailto, ...: not a file of this repository
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(root)}: ({target})"
        if not dest.exists():
            problems.append(f"{where}: {file_part} does not exist")
            continue
        if anchor and dest.suffix == ".md" and dest.is_file() and unquote(anchor) not in anchors(dest):
            problems.append(f"{where}: no heading with anchor #{anchor} in {dest.relative_to(root)}")
    return problems


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The real path: `pulumi up` per environment", "the-real-path-pulumi-up-per-environment"),
        ("GPU sharing modes (`nodePools[].gpu`)", "gpu-sharing-modes-nodepoolsgpu"),
        (
            "Cluster autoscaler and the accelerator-label policy (kubernetes/autoscaler#8095)",
            "cluster-autoscaler-and-the-accelerator-label-policy-kubernetesautoscaler8095",
        ),
        ("Who installs what: AL2023 vs Bottlerocket vs ACK", "who-installs-what-al2023-vs-bottlerocket-vs-ack"),
        ("Istio + API gateway", "istio--api-gateway"),
        ("**Bold** and [a link](x.md) and snake_case and _em_", "bold-and-a-link-and-snake_case-and-em"),
    ],
)
def test_github_anchor(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_link_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Same\n\n## Same\n\n```md\n## In code\n```\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n"
        "[ok](other.md) [ok](other.md#other-page) [ok](other.md#same-1) [ok](#page) [web](https://example.com)\n"
        "[gone](missing.md) [bad](other.md#in-code) [bad](#nowhere) `[code](missing.md)` [wrapped\n"
        "text](missing-too.md)\n"
        "```\n[also code](missing.md)\n```\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "page.md: (missing.md): missing.md does not exist",
        "page.md: (other.md#in-code): no heading with anchor #in-code in other.md",
        "page.md: (#nowhere): no heading with anchor #nowhere in page.md",
        "page.md: (missing-too.md): missing-too.md does not exist",
    ]
