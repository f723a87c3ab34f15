"""The sensor's and the centre's configuration files (YAML, validated with line numbers)."""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanner.config.userfiles import load_model
from scanner.errors import InputError


class BrokerSettings(BaseModel):
    """Where the broker is and how to log in: the password lives in its own 0600 file."""

    model_config = ConfigDict(extra="forbid")
    url: str  # amqps://USER@HOST:5671/VHOST (no password here)
    password_file: Path
    ca_file: Path  # the CA that issued the broker's certificate (the MSP's own CA)

    @field_validator("url")
    @classmethod
    def _amqps(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "amqps":
            raise ValueError("the broker is reached over TLS only: the URL starts with amqps://")
        if parts.password:
            raise ValueError("no password in the URL: put it in password_file")
        if not parts.username or not parts.hostname:
            raise ValueError("expected amqps://USER@HOST:PORT/VHOST")
        return value

    def password(self) -> str:
        try:
            mode = self.password_file.stat().st_mode & 0o777
            text = self.password_file.read_text().strip()
        except OSError as exc:
            raise InputError(f"cannot read the broker password ({exc.strerror or exc})",
                             source=str(self.password_file)) from exc
        if mode & 0o077:
            raise InputError(f"the broker password file is readable by others (mode {mode:o}); chmod 600 it",
                             source=str(self.password_file))
        if not text:
            raise InputError("the broker password file is empty", source=str(self.password_file))
        return text

    def connection_url(self) -> str:
        """The URL with the password (kept in memory only; Celery masks it in its logs)."""
        parts = urlsplit(self.url)
        netloc = f"{quote(parts.username or '', safe='')}:{quote(self.password(), safe='')}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(("amqps", netloc, parts.path, "", ""))

    def ssl_options(self) -> dict[str, Any]:
        if not self.ca_file.is_file():
            raise InputError("the broker CA file does not exist", source=str(self.ca_file))
        return {"ca_certs": str(self.ca_file), "cert_reqs": ssl.CERT_REQUIRED,
                "server_hostname": urlsplit(self.url).hostname}


class SensorConfig(BaseModel):
    """sensor.yaml at a practice."""

    model_config = ConfigDict(extra="forbid")
    site: str
    broker: BrokerSettings
    key_file: Path  # the sensor's Ed25519 private key (gapscan keys init --key FILE), 0600
    allowed_networks: list[str] = Field(min_length=1)  # the only networks this sensor may ever scan
    allowed_domains: list[str] = Field(default_factory=list)  # domains it may run DNS/mail checks on
    heartbeat_seconds: float = Field(default=60.0, gt=0, le=3600)
    work_dir: Path = Path("/var/lib/gapscan-sensor")

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=True)  # ValueError names the entry
        return value

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n) for n in self.allowed_networks]


class CentreConfig(BaseModel):
    """centre.yaml at the MSP."""

    model_config = ConfigDict(extra="forbid")
    broker: BrokerSettings
    db: str  # the history store: a PostgreSQL URL (postgresql+psycopg://...)
    rabbitmqctl: list[str] = Field(default_factory=lambda: ["rabbitmqctl"])  # argv prefix of the broker's CLI
    vhost: str = "gapscan"
    sign_key: Path | None = None  # the MSP's key to sign stored runs with (as gapscan scan --sign-key)
    db_wait_seconds: float = Field(default=3600.0, gt=0)  # how long a bundle waits for PostgreSQL to return
    schedule_seconds: float = Field(default=300.0, gt=0)  # how often the scheduler looks for due clients


def load_sensor_config(path: Path) -> SensorConfig:
    return load_model(path, SensorConfig)


def load_centre_config(path: Path) -> CentreConfig:
    return load_model(path, CentreConfig)


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path
