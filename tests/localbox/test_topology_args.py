"""`python -m localbox`'s topology options: what each topology takes, refused by name before
anything starts."""

from __future__ import annotations

import pytest

from localbox.__main__ import main


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--topology", "ha", "--backup-every", "5"], "--backup-every"),
        (["--topology", "ha", "--no-nginx"], "--no-nginx"),
        (["--topology", "ha", "--replace-after", "-1"], "--replace-after -1"),
        (["--replace-after", "5"], "--replace-after"),
        (["--no-retry"], "--no-retry"),
        (["--topology", "triple"], "'triple'"),
    ],
)
def test_an_option_of_the_other_topology_is_refused_by_name(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--state", "/nonexistent/never-made", *argv])
    assert exited.value.code == 2
    assert named in capsys.readouterr().err
