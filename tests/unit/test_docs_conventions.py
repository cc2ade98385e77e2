"""How the docs test reads a page: commands, files, expected statuses and shown output."""

from __future__ import annotations

from pathlib import Path

from tests.support.docs import Command, File, read_page, unmatched

PAGE = """\
<!-- docs: output checked -->
Make a file:

<!-- file: src/a.c -->
```c
int main(void) { return 0; }
```

```console
$ cc -o a \\
    src/a.c
$ ./a --bad  # exit 2
usage: a
...
done
```

```sh
rm -rf /
```
"""


def test_a_page_gives_its_files_commands_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text(PAGE)
    page = read_page(tmp_path / "page.md")
    assert page.output_checked and not page.in_checkout
    assert page.steps == [
        File(5, "src/a.c", "int main(void) { return 0; }\n"),
        Command(10, "cc -o a \\\n    src/a.c", 0, ()),
        Command(12, "./a --bad  # exit 2", 2, ("usage: a", "...", "done")),
    ]
    assert page.refused == ["line 18: a ```sh block: show commands in a ```console block "
                            "($ lines), anything else as ```text"]


def test_shown_output_matches_in_order_with_ellipses() -> None:
    shown = ("test_x.py::test_x[aarch64] PASSED [emulated] ...", "...", "1 passed in ...")
    output = "collected 1\ntest_x.py::test_x[aarch64] PASSED [emulated]   [100%]\n" \
             "matrix\n===== 1 passed in 0.5s =====\n"
    assert unmatched(shown, output) == []
    assert unmatched(("1 passed in ...", "test_x.py::test_x ..."), output) == \
        ["test_x.py::test_x ..."]  # out of order
    assert unmatched(("2 passed",), output) == ["2 passed"]
