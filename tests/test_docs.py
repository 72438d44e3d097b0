"""The documentation's links: README.md and docs/*.md link only to what exists.

Every relative Markdown link `[text](target)` in README.md and in `docs/*.md`
must name a file (or directory) that exists relative to the linking file, and
a `#anchor` into a Markdown file (or a bare `#anchor` in the same file) must
match one of that file's headings under GitHub's slug rule. Links inside
fenced code blocks and inline code are not links. The README stays a front
door of at most 250 lines.
"""

import os
import re
import urllib.parse

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS_DIR = os.path.join(REPO_ROOT, 'docs')
README = os.path.join(REPO_ROOT, 'README.md')
MAX_README_LINES = 250

_FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
_INLINE_CODE = re.compile(r'(`+)(?:(?!\1).)+?\1')
# `](target)` or `](target "title")`; finds nested links such as a badge
# `[![alt](image)](link)` too. A target may be written `<...>`.
_LINK = re.compile(r'\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|\'[^\']*\'))?\s*\)')
_HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
_SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')


def markdown_files():
  """README.md and every docs/*.md, as absolute paths."""
  pages = sorted(
      os.path.join(DOCS_DIR, name) for name in os.listdir(DOCS_DIR) if name.endswith('.md'))
  return [README] + pages


def prose_lines(text):
  """(line number, line) for the lines outside fenced code blocks."""
  fence = None
  for number, line in enumerate(text.splitlines(), start=1):
    match = _FENCE.match(line)
    if fence is None:
      if match:
        fence = match.group(1)
        continue
      yield number, line
    elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
      fence = None


def github_slug(heading):
  """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
  text = _INLINE_CODE.sub(lambda m: m.group(0).strip('`'), heading)
  text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', text)  # a link's text only
  text = text.strip().lower()
  text = re.sub(r'[^\w\- ]', '', text)
  return text.replace(' ', '-')


def anchors(path):
  """The heading anchors of a Markdown file; repeated headings get -1, -2, ... as on GitHub."""
  with open(path, encoding='utf-8') as f:
    text = f.read()
  seen = {}
  result = set()
  for _, line in prose_lines(text):
    match = _HEADING.match(line)
    if not match:
      continue
    slug = github_slug(match.group(2))
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    result.add(slug if count == 0 else f'{slug}-{count}')
  return result


def links(path):
  """(line number, target) for every Markdown link of a file outside code."""
  with open(path, encoding='utf-8') as f:
    text = f.read()
  for number, line in prose_lines(text):
    for match in _LINK.finditer(_INLINE_CODE.sub('', line)):
      yield number, match.group(1).strip('<>')


def broken_links(path):
  """Messages for each relative link of `path` whose file or anchor does not exist."""
  problems = []
  base = os.path.dirname(path)
  for number, target in links(path):
    if _SCHEME.match(target) or target.startswith('//'):
      continue  # http(s)://, mailto: and other absolute URLs
    file_part, _, anchor = target.partition('#')
    file_part = urllib.parse.unquote(file_part)
    linked = os.path.normpath(os.path.join(base, file_part)) if file_part else path
    where = f'{os.path.relpath(path, REPO_ROOT)}:{number}: ({target})'
    if not os.path.exists(linked):
      problems.append(f'{where} {os.path.relpath(linked, REPO_ROOT)} does not exist')
      continue
    if anchor and linked.endswith('.md'):
      if urllib.parse.unquote(anchor).lower() not in anchors(linked):
        problems.append(
            f'{where} no heading of {os.path.relpath(linked, REPO_ROOT)} has the anchor '
            f'#{anchor}')
  return problems


def test_docs_pages_exist():
  pages = markdown_files()[1:]
  assert pages, 'docs/ has no Markdown pages'


@pytest.mark.parametrize(
    'path', markdown_files(), ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_relative_links_resolve(path):
  problems = broken_links(path)
  assert not problems, 'broken links:\n' + '\n'.join(problems)


@pytest.mark.parametrize(
    'path', markdown_files()[1:], ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_each_page_links_back_to_the_readme(path):
  targets = [target.partition('#')[0] for _, target in links(path)]
  assert '../README.md' in targets, (
      f'{os.path.relpath(path, REPO_ROOT)} has no link back to ../README.md')


def test_readme_is_at_most_250_lines():
  with open(README, encoding='utf-8') as f:
    count = len(f.read().splitlines())
  assert count <= MAX_README_LINES, f'README.md has {count} lines (at most {MAX_README_LINES})'


def test_github_slug():
  assert github_slug('What `make install` does, and why') == 'what-make-install-does-and-why'
  assert github_slug("Sweeps: the paper's figures") == 'sweeps-the-papers-figures'
  assert github_slug('Rounds on 1, 2 and 4 TFF workers') == 'rounds-on-1-2-and-4-tff-workers'
  assert github_slug('Notebooks (Colab, GPU)') == 'notebooks-colab-gpu'
  assert github_slug('Several TFF workers: one machine or several hosts') == (
      'several-tff-workers-one-machine-or-several-hosts')


def test_checker_finds_broken_links(tmp_path):
  (tmp_path / 'other.md').write_text('# Other page\n\n## A section\n', encoding='utf-8')
  page = tmp_path / 'page.md'
  page.write_text(
      '# Page\n\n'
      '[fine](other.md) [fine](other.md#a-section) [fine](#page) '
      '[web](https://example.org/x.md) [mail](mailto:a@b.c)\n'
      '`[code](missing-in-code.md)`\n'
      '```\n[fenced](missing-in-fence.md)\n```\n'
      '[gone](missing.md) [bad anchor](other.md#no-such-section) [bad local](#nowhere)\n',
      encoding='utf-8')
  problems = broken_links(str(page))
  assert len(problems) == 3, problems
  assert 'missing.md' in problems[0]
  assert '#no-such-section' in problems[1]
  assert '#nowhere' in problems[2]
