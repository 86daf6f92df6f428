"""The dbt project the monitor watches, and the connection settings it shares with dbt.

Same options and environment variables as dbt (`--project-dir`/DBT_PROJECT_DIR,
`--profiles-dir`/DBT_PROFILES_DIR, `--profile`/DBT_PROFILE, `--target`/DBT_TARGET,
`--target-path`/DBT_TARGET_PATH), rendered by dbt's own profile code, so `env_var()` and the
`type: amp` validation behave exactly as under `dbt run`. The token is resolved as the adapter
resolves it (profile, AMP_AUTH_TOKEN, the Amp CLI login cache) and only ever sent, never stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from amp_dbt_monitor.errors import ConfigError

if TYPE_CHECKING:
    from dbt.adapters.amp.admin import AdminClient
    from dbt.adapters.amp.credentials import AmpCredentials


@dataclass(frozen=True)
class Project:
    """A dbt project directory: its name, profile and where its artifacts and state live."""

    directory: Path
    name: str
    profile: str | None
    target_dir: Path

    @property
    def manifest_path(self) -> Path:
        return self.target_dir / "manifest.json"

    @property
    def run_results_path(self) -> Path:
        return self.target_dir / "run_results.json"

    @property
    def state_path(self) -> Path:
        from dbt.adapters.amp.state import state_path

        return state_path(self.directory)


def find_project(project_dir: str | Path | None, target_path: str | None = None) -> Project:
    """The project in `project_dir` (default: the current directory or its nearest parent with a
    dbt_project.yml, as dbt does)."""
    directory = Path(project_dir) if project_dir else _default_project_dir()
    config_file = directory / "dbt_project.yml"
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(
            f"no dbt_project.yml in {directory.resolve()}: run amp-dbt-monitor in your dbt project "
            "or pass --project-dir (or set DBT_PROJECT_DIR)"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{config_file} cannot be read: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{config_file} is not a dbt project file (expected a mapping)")
    target = target_path or config.get("target-path") or "target"
    return Project(
        directory=directory,
        name=str(config.get("name") or directory.name),
        profile=config.get("profile"),
        target_dir=directory / target,
    )


def _default_project_dir() -> Path:
    cwd = Path.cwd()
    return next((p for p in (cwd, *cwd.parents) if (p / "dbt_project.yml").exists()), cwd)


@dataclass(frozen=True)
class ProfileOptions:
    profiles_dir: str | None = None
    profile: str | None = None
    target: str | None = None


def load_credentials(project: Project, options: ProfileOptions) -> AmpCredentials:
    """The project's `type: amp` credentials, rendered by dbt's profile code."""
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtProfileError, DbtProjectError
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtRuntimeError

    from dbt.adapters.amp.credentials import AmpCredentials

    profiles_dir = Path(options.profiles_dir or _default_profiles_dir(project))
    name = options.profile or project.profile
    if not name:
        raise ConfigError(
            f"{project.directory / 'dbt_project.yml'} names no profile: add `profile: <name>` "
            "or pass --profile"
        )
    set_invocation_context(os.environ)  # env_var() in profiles.yml reads it
    try:
        raw = read_profile(str(profiles_dir))
        if name not in raw:
            raise ConfigError(
                f"no profile named {name!r} in {profiles_dir / 'profiles.yml'}: pass "
                "--profiles-dir (or set DBT_PROFILES_DIR) to the folder with your profiles.yml"
            )
        if not raw[name]:
            raise ConfigError(f"profile {name!r} in {profiles_dir / 'profiles.yml'} is empty")
        target, data = Profile.render_profile(raw[name], name, options.target, ProfileRenderer({}))
        data.pop("threads", None)
        credentials = Profile._credentials_from_profile(data, name, target)
    except (DbtProfileError, DbtProjectError, DbtRuntimeError) as exc:
        message = str(getattr(exc, "msg", exc)).strip()
        raise ConfigError(
            f"profile {name!r} ({profiles_dir / 'profiles.yml'}): {message}"
        ) from None
    if not isinstance(credentials, AmpCredentials):
        raise ConfigError(
            f"profile {name!r}, target {target!r} is `type: {credentials.type}`: amp-dbt-monitor "
            "needs a `type: amp` target (pass --target)"
        )
    return credentials


def _default_profiles_dir(project: Project) -> Path:
    """As dbt: DBT_PROFILES_DIR, else the project directory if it has a profiles.yml (dbt looks
    in the current directory; the monitor also runs from elsewhere with --project-dir), else
    ~/.dbt."""
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"])
    for candidate in (Path.cwd(), project.directory):
        if (candidate / "profiles.yml").exists():
            return candidate
    return Path.home() / ".dbt"


def admin_client(credentials: AmpCredentials, token: str | None) -> AdminClient:
    """The adapter's Admin API client for the profile's `admin_url`."""
    from dbt.adapters.amp.admin import AdminClient

    if not credentials.admin_url:
        raise ConfigError(
            "this needs Amp's Admin API, but the profile's target has no admin_url: add "
            "admin_url: http://<host>:1610 to it"
        )
    return AdminClient(credentials.admin_url, token=token, retries=max(credentials.retries, 1))
