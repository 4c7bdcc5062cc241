//! Test certificates made with the openssl command line (as the broker's TLS tests do): a CA,
//! and certificates it signs for 127.0.0.1 that serve and authenticate clients alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use skiff_tls::{ClientFiles, TlsFiles};

/// One CA in its own directory.
pub struct Pki {
    dir: PathBuf,
}

/// A certificate and its key.
#[derive(Clone)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

impl Pki {
    /// A new CA named `name` under `parent/name`.
    pub fn new(parent: &Path, name: &str) -> Pki {
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let subject = format!("/CN={name}");
        openssl(
            &dir,
            &[
                &["req", "-x509"][..],
                &EC,
                &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
                &["-subj", &subject],
            ]
            .concat(),
        );
        Pki { dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A certificate for `name` valid for 127.0.0.1 and localhost, as a server and a client.
    pub fn issue(&self, name: &str) -> Identity {
        let subject = format!("/CN={name}");
        let (key, csr, cert, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            &self.dir,
            &[
                &["req"][..],
                &EC,
                &["-keyout", &key, "-out", &csr, "-subj", &subject],
            ]
            .concat(),
        );
        std::fs::write(
            self.dir.join(&ext),
            "basicConstraints=CA:FALSE\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n\
             extendedKeyUsage=serverAuth,clientAuth\n",
        )
        .expect("write");
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        Identity {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        }
    }

    /// What a controller serves with: `identity`, requiring clients signed by this CA.
    pub fn server(&self, identity: &Identity) -> TlsFiles {
        TlsFiles {
            cert: identity.cert.clone(),
            key: identity.key.clone(),
            client_ca: Some(self.ca()),
        }
    }

    /// A client trusting this CA, presenting `identity` if given.
    pub fn client(&self, identity: Option<&Identity>) -> ClientFiles {
        ClientFiles {
            ca: self.ca(),
            identity: identity.map(|i| (i.cert.clone(), i.key.clone())),
        }
    }
}
