"""python -m alerting render --out PATH [--owner UID:GID]: write Alertmanager's
configuration from the ALERT_* environment variables. Exit 78 (EX_CONFIG) on a bad
setting, with a message naming the variable and never a secret."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alerting.render import Owner, render
from alerting.settings import AlertSettings, AlertSettingsProblem

EX_CONFIG = 78


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alerting", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_command = commands.add_parser(
        "render", help="write alertmanager.yml (and the secret files beside it)"
    )
    render_command.add_argument("--out", type=Path, required=True, help="alertmanager.yml path")
    render_command.add_argument(
        "--owner", type=_owner, metavar="UID:GID", help="give the files to Alertmanager's user"
    )
    return parser


def _owner(text: str) -> Owner:
    try:
        return Owner.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = AlertSettings.from_env()
    except AlertSettingsProblem as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    render(settings, args.out, args.owner)
    if settings.receivers:
        print(f"alertmanager config written to {args.out}: {', '.join(settings.receivers)}")
    else:
        print(
            f"alertmanager config written to {args.out}: no receiver configured (set "
            "ALERT_WEBHOOK_URL, ALERT_SLACK_WEBHOOK_URL or ALERT_EMAIL_TO); alerts reach nobody",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
