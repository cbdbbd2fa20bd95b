//! Registry credentials the way `docker login` leaves them: Docker's
//! `config.json` (`auths`, `credHelpers`, `credsStore`), so a policy author
//! who can push an image can push a policy.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

/// Docker's client configuration, the parts that hold credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))
            .map(|dir| dir.join("config.json"))
    }

    /// The configuration in `path`; none when the file does not exist.
    pub fn read(path: &Path) -> Result<Self, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                format!(
                    "{} is not a Docker config file: {err}; fix or remove it",
                    path.display()
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfig::default()),
            Err(err) => Err(format!("cannot read {}: {err}", path.display())),
        }
    }

    /// Parse a `.dockerconfigjson` (an image-pull Secret's content).
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(json).map_err(|err| format!("not a Docker config: {err}"))
    }

    /// The credentials for `registry`: a credential helper's answer, else
    /// the stored `auth`, else anonymous.
    pub fn auth_for(&self, registry: &str) -> Result<RegistryAuth, String> {
        let helper = self
            .cred_helpers
            .get(registry)
            .or(self.creds_store.as_ref());
        if let Some(helper) = helper {
            return ask_helper(helper, registry);
        }
        let Some(entry) = self
            .auths
            .iter()
            .find(|(key, _)| host_of(key) == registry)
            .map(|(_, entry)| entry)
        else {
            return Ok(RegistryAuth::Anonymous);
        };
        if let Some(token) = &entry.identity_token {
            return Ok(RegistryAuth::Bearer(token.clone()));
        }
        if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
            return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
        }
        let Some(auth) = &entry.auth else {
            return Ok(RegistryAuth::Anonymous);
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| format!("the `auth` for {registry} in the Docker config is not base64 of USER:PASSWORD; run `docker login {registry}` again"))?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            format!("the `auth` for {registry} in the Docker config has no `:` between user and password")
        })?;
        Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
    }
}

/// `https://index.docker.io/v1/` and `ghcr.io` alike name a host.
fn host_of(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// Run `docker-credential-HELPER get` with the registry on stdin.
fn ask_helper(helper: &str, registry: &str) -> Result<RegistryAuth, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run the credential helper {program} for {registry}: {err}; install it or remove it from the Docker config"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|err| format!("{program} failed: {err}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout);
        // Helpers answer "credentials not found in native keychain" for a
        // registry they hold nothing for: that is an anonymous pull.
        if said.contains("not found") {
            return Ok(RegistryAuth::Anonymous);
        }
        return Err(format!(
            "{program} get {registry} failed: {}{}",
            said.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("{program} answered something other than credentials: {err}"))?;
    Ok(RegistryAuth::Basic(answer.username, answer.secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        DockerConfig::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn a_stored_auth_is_decoded_to_user_and_password() {
        let c = config(r#"{"auths":{"ghcr.io":{"auth":"YWxpY2U6czNjcmV0"}}}"#);
        assert_eq!(
            c.auth_for("ghcr.io").unwrap(),
            RegistryAuth::Basic("alice".into(), "s3cret".into())
        );
    }

    #[test]
    fn a_registry_without_credentials_is_pulled_anonymously() {
        let c = config(r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YTpi"}}}"#);
        assert_eq!(
            c.auth_for("127.0.0.1:5000").unwrap(),
            RegistryAuth::Anonymous
        );
        assert_eq!(
            c.auth_for("index.docker.io").unwrap(),
            RegistryAuth::Basic("a".into(), "b".into())
        );
    }

    #[test]
    fn a_missing_credential_helper_is_named_in_the_error() {
        let c = config(r#"{"credHelpers":{"ghcr.io":"warbler-test-nonexistent"}}"#);
        let err = c.auth_for("ghcr.io").unwrap_err();
        assert!(
            err.contains("docker-credential-warbler-test-nonexistent"),
            "{err}"
        );
    }
}
