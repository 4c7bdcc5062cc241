"""Test certificates made with the openssl command: a CA and a broker certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_certificates(directory: Path) -> Path:
    """A CA and a broker certificate for localhost and 127.0.0.1; returns the directory."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=skiff-test-ca")
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return directory


def make_controller_certificates(directory: Path, names: tuple[str, ...] = ("node",)) -> dict[str, Path]:
    """A CA for the controller API (`--controller-tls-*`) and, for each name, a certificate for
    127.0.0.1 and localhost that serves and authenticates as a client alike. Returns the paths:
    `ca`, and `<name>.pem` / `<name>.key` for each name."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subject = f"/CN={directory.name}-ca"
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", subject)
    (directory / "node.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    paths = {"ca": directory / "ca.pem"}
    for name in names:
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", "node.ext")  # fmt: skip
        paths[f"{name}.pem"] = directory / f"{name}.pem"
        paths[f"{name}.key"] = directory / f"{name}.key"
    return paths


def controller_tls_args(paths: dict[str, Path], name: str = "node") -> list[str]:
    """The `--controller-tls-*` flags for the certificate `name` of `make_controller_certificates`."""
    return [
        "--controller-tls-cert-file", str(paths[f"{name}.pem"]),
        "--controller-tls-key-file", str(paths[f"{name}.key"]),
        "--controller-tls-client-ca-file", str(paths["ca"]),
    ]  # fmt: skip
