"""Workspace settings: `settings.toml` in the workspace, overridden by `CINEFOUNDRY_*` environment variables."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, ClassVar

import tomli_w
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SETTINGS_FILE = "settings.toml"
DEFAULT_HOME = "studio"


def resolve_home(home: str | Path | None = None) -> Path:
    """The workspace folder: `home` if given, else `$CINEFOUNDRY_HOME`, else `./studio`."""
    chosen = home or os.environ.get("CINEFOUNDRY_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


class WorkspaceSettings(BaseSettings):
    """What a workspace is configured with; every field can be overridden by `CINEFOUNDRY_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="CINEFOUNDRY_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; empty means the SQLite file catalog.db in the workspace"
    )
    store_url: str | None = Field(
        default=None, description="fsspec URL of the object store; empty means objects/ in the workspace"
    )
    clips_url: str | None = Field(
        default=None, description="Lance URL of the clip catalog; empty means clips.lance in the workspace"
    )
    territory: str = Field(
        default="WW", description="territory that rights checks assume when none is given (ISO 3166 or WW)"
    )
    tenant: str = Field(default="studio", description="the studio tenant that owns this workspace's models")
    user: str | None = Field(default=None, description="who is recorded in the audit log; default: OS user")
    signing_cert: str | None = Field(
        default=None, description="PEM chain (signer first) that signs C2PA manifests; default: the test PKI in pki/"
    )
    signing_key: str | None = Field(default=None, description="PEM private key of signing_cert (keep it 0600)")
    signing_alg: str | None = Field(default=None, description="C2PA signing algorithm of signing_key; default es256")
    tsa_url: str | None = Field(
        default=None, description="RFC 3161 timestamp server; keeps signatures Trusted after the cert expires"
    )
    trust_anchors: str | None = Field(
        default=None, description="PEM root(s) verification trusts; default: the test PKI's root.pem"
    )
    unknown_faces: str = Field(
        default="refuse",
        description="likeness guard: a face that cannot be matched against performers is refused or allowed",
    )

    toml_file: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then the workspace file: a CI job can point a workspace at another database.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file))
        return tuple(sources)

    @classmethod
    def load(cls, home: Path) -> WorkspaceSettings:
        """Settings of the workspace in `home` (file plus environment)."""
        bound = type("BoundWorkspaceSettings", (cls,), {"toml_file": home / SETTINGS_FILE})
        return bound()

    def actor(self) -> str:
        """The name recorded as `who` in the audit log."""
        return self.user or os.environ.get("CINEFOUNDRY_USER") or _os_user()


def write_settings_file(home: Path, values: dict[str, Any]) -> Path:
    """Write `settings.toml` with the given values (None values are left out)."""
    path = home / SETTINGS_FILE
    body = {k: v for k, v in values.items() if v is not None}
    header = "# cinefoundry workspace settings; CINEFOUNDRY_<NAME> environment variables override them.\n"
    path.write_text(header + tomli_w.dumps(body), encoding="utf-8")
    return path


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # containers without a passwd entry
        return "unknown"
