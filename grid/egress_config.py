"""The egress proxy's config: where it listens, the policy it applies, the Grid it asks.

``testfleet grid node`` writes it (``write_config``) for the proxy it starts beside the
node; ``python -m grid.egress CONFIG.json`` reads it (``load_config``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from testfleet.fleet.gridstatus import Auth
from testfleet.settings import Settings
from testfleet.targets.policy import Endpoint, TargetPolicy, parse_allowance


@dataclass(frozen=True)
class EgressConfig:
    """What one egress proxy needs: where it listens, the policy it applies, and the
    Grid whose node hosts it refuses (``grid_url`` empty: none but the settings')."""

    host: str
    port: int
    allowed: tuple[str, ...]
    endpoints: tuple[tuple[str, str, int | None], ...]
    grid_url: str = ""
    grid_username: str = ""
    grid_password: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressConfig:
        policy = TargetPolicy.from_settings(settings)
        user, password = settings.security.grid_credentials or ("", "")
        return cls(
            host=settings.security.egress_host,
            port=settings.security.egress_port,
            allowed=tuple(a.raw for a in policy.allowed),
            endpoints=tuple((e.name, e.host, e.port) for e in policy.endpoints),
            grid_url=settings.grid.url,
            grid_username=user,
            grid_password=password,
        )

    def policy(self) -> TargetPolicy:
        return TargetPolicy(
            tuple(parse_allowance(raw) for raw in self.allowed),
            tuple(Endpoint(*e) for e in self.endpoints),
        )

    @property
    def grid_auth(self) -> Auth:
        return (self.grid_username, self.grid_password) if self.grid_username else None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def config_path(settings: Settings) -> Path:
    return settings.paths.state_dir / "grid" / "egress.json"


def write_config(settings: Settings) -> Path:
    """Write the proxy's config (atomically) and return its path."""
    path = config_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    # It holds the Grid router's credentials: readable by this user only.
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(asdict(EgressConfig.from_settings(settings)), indent=2))
    tmp.replace(path)
    return path


def egress_command(settings: Settings) -> list[str]:
    """Write the config and return the command line that runs the proxy."""
    return [sys.executable, "-m", "grid.egress", str(write_config(settings))]


def chrome_proxy_args(proxy_url: str) -> list[str]:
    """Chromium switches that send everything a browser fetches through ``proxy_url``."""
    return [
        f"--proxy-server={proxy_url}",
        # Chromium never proxies loopback unless told to; "<-loopback>" removes that
        # implicit bypass, so the node's own ports are the proxy's to refuse.
        "--proxy-bypass-list=<-loopback>",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]


def load_config(path: Path) -> EgressConfig:
    data = json.loads(path.read_text(encoding="utf-8"))
    return EgressConfig(
        host=data["host"],
        port=int(data["port"]),
        allowed=tuple(data["allowed"]),
        endpoints=tuple((n, h, p) for n, h, p in data["endpoints"]),
        grid_url=data.get("grid_url", ""),
        grid_username=data.get("grid_username", ""),
        grid_password=data.get("grid_password", ""),
    )
