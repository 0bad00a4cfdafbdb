//! Who may do what on the web page: roles, users who log in with a password (argon2
//! hashes), bearer tokens for the API, signed session cookies and CSRF tokens.
//!
//! Without configuration ([`Auth::open`]) every user holds every role: right only on a
//! loopback address. With [`Auth::required`] a user logs in on `/login` (or an API client
//! sends a bearer token) to hold more than the anonymous role.
//!
//! Sessions live in a cookie, `__session`, signed with a key made at random when the
//! [`Auth`] is made (so a restart logs everyone out; [`Auth::with_key`] gives a key of
//! one's own): `BASE64URL(user).EXPIRY.NONCE.BASE64URL(MAC)`, the MAC a keyed blake3 hash
//! of the rest, EXPIRY in seconds since 1970. The cookie is `HttpOnly` and
//! `SameSite=Strict`; logging out revokes its nonce. A form's CSRF token is the keyed hash
//! of the session's nonce or, without a session, of the nonce in the `__csrf` cookie.
//!
//! ```
//! use current::web::auth::{Auth, Role, Roles, Tokens, Users};
//!
//! # fn main() -> Result<(), current::web::auth::AuthError> {
//! let hash = current::web::auth::hash_password("correct horse")?;
//! let mut users = Users::new();
//! users.add("alice", &hash, Roles::of(&[Role::Admin]))?;
//! let mut tokens = Tokens::new();
//! tokens.add("prometheus", "a-long-random-token-0123", Roles::of(&[Role::Monitor]))?;
//! let auth = Auth::required(users, tokens);
//! assert!(auth.is_required());
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "__session";
/// The name of the cookie that carries a CSRF nonce when there is no session.
pub(crate) const CSRF_COOKIE: &str = "__csrf";

/// How long a session lasts unless [`Auth::with_session_lifetime`] says otherwise: 7 days,
/// as OCurrent's.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The shortest bearer token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// What went wrong reading a users or tokens file, or adding to one.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the file is wrong.
    #[error("{}:{line}: {message}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A user or token added by hand is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A password cannot be hashed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// A role on the web page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// See the pipeline, the jobs, their logs, the results and the log rules.
    Viewer,
    /// Rebuild and cancel jobs (and everything a viewer may).
    Builder,
    /// Read `/metrics`.
    Monitor,
    /// Everything: the confirmation level, starting jobs that wait for confirmation, the
    /// log rules.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Builder, Role::Monitor, Role::Admin];

    /// Its name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Builder => "builder",
            Role::Monitor => "monitor",
            Role::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Role::Viewer => 1,
            Role::Builder => 2,
            Role::Monitor => 4,
            Role::Admin => 8,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: the roles are viewer, builder, monitor, admin")
            })
    }
}

/// A set of roles. An admin holds every role, a builder is a viewer too.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// No role at all.
    pub const NONE: Roles = Roles(0);
    /// Every role.
    pub const ALL: Roles = Roles(15);

    /// The roles `roles` and those they imply.
    pub fn of(roles: &[Role]) -> Roles {
        let mut bits = 0;
        for r in roles {
            bits |= match r {
                Role::Admin => Roles::ALL.0,
                Role::Builder => Role::Builder.bit() | Role::Viewer.bit(),
                r => r.bit(),
            };
        }
        Roles(bits)
    }

    /// Whether `role` is among them.
    pub fn holds(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Roles from their names separated by commas: `builder,monitor`.
    pub fn parse(text: &str) -> Result<Roles, String> {
        let roles = text
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(Role::from_str)
            .collect::<Result<Vec<Role>, String>>()?;
        if roles.is_empty() {
            return Err("no roles: give one or more of viewer, builder, monitor, admin".into());
        }
        Ok(Roles::of(&roles))
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| self.holds(*r))
            .map(Role::name)
            .collect();
        if names.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// What a user who has not logged in may do when a login is required.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Anonymous {
    /// Nothing: every page needs a login.
    None,
    /// See the pipeline, the jobs and their logs.
    #[default]
    Viewer,
}

impl Anonymous {
    fn roles(self) -> Roles {
        match self {
            Anonymous::None => Roles::NONE,
            Anonymous::Viewer => Roles::of(&[Role::Viewer]),
        }
    }
}

/// Whether `name` may name a user or a token: letters, digits, `-`, `_`, `.`, `@`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the name {name:?} is not allowed: use 1 to 64 letters, digits, '-', '_', '.', '@'"
        ))
    }
}

/// The fields of each line of a users or tokens file that is not blank or a comment:
/// `(line number, fields)`, or the error of the first line without three fields.
fn lines<'a>(
    text: &'a str,
    path: &Path,
    what: &str,
) -> Result<Vec<(usize, [&'a str; 3])>, AuthError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').map(str::trim).collect();
        match fields.as_slice() {
            [a, b, c] => out.push((n + 1, [*a, *b, *c])),
            _ => {
                return Err(AuthError::Line {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: format!(
                        "expected {what}: three fields separated by ':', found {}",
                        fields.len()
                    ),
                })
            }
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.to_path_buf(),
        source,
    })
}

struct User {
    hash: String,
    roles: Roles,
}

/// The users who may log in: a name, an argon2 password hash (a PHC string, as
/// `current-ctl hash-password` prints) and roles each.
///
/// Their file has one user a line, `NAME:HASH:ROLES`, the roles separated by commas;
/// blank lines and lines starting with `#` are skipped:
///
/// ```text
/// # name:password hash:roles
/// alice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA:admin
/// bob:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA:builder,monitor
/// ```
#[derive(Default)]
pub struct Users {
    users: HashMap<String, User>,
}

impl Users {
    /// No users.
    pub fn new() -> Users {
        Users::default()
    }

    /// Add user `name` with the argon2 PHC string `hash` and `roles`. Refused: a name
    /// already added or not made of letters, digits, `-_.@`; a hash that is not argon2's.
    pub fn add(&mut self, name: &str, hash: &str, roles: Roles) -> Result<(), AuthError> {
        self.insert(name, hash, roles).map_err(AuthError::Invalid)
    }

    fn insert(&mut self, name: &str, hash: &str, roles: Roles) -> Result<(), String> {
        check_name(name)?;
        let parsed = PasswordHash::new(hash)
            .map_err(|e| format!("the password hash of {name:?} is not a PHC string: {e}"))?;
        if !parsed.algorithm.as_str().starts_with("argon2") {
            return Err(format!(
                "the password hash of {name:?} is {}, not argon2 (make one with `current-ctl hash-password`)",
                parsed.algorithm
            ));
        }
        if self.users.contains_key(name) {
            return Err(format!("the user {name:?} is there twice"));
        }
        self.users.insert(
            name.to_string(),
            User {
                hash: hash.to_string(),
                roles,
            },
        );
        Ok(())
    }

    /// The users of the file at `path`.
    pub fn load(path: &Path) -> Result<Users, AuthError> {
        Users::parse(&read(path)?, path)
    }

    /// The users of `text`, the content of the file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Users, AuthError> {
        let mut users = Users::new();
        for (line, [name, hash, roles]) in lines(text, path, "NAME:PASSWORD-HASH:ROLES")? {
            let at = |message: String| AuthError::Line {
                path: path.to_path_buf(),
                line,
                message,
            };
            let roles = Roles::parse(roles).map_err(at)?;
            users.insert(name, hash, roles).map_err(at)?;
        }
        Ok(users)
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The roles of `name` if `password` is theirs. Slow on purpose (argon2): call it
    /// off the async threads. An unknown name takes as long as a wrong password.
    pub fn check_password(&self, name: &str, password: &str) -> Option<Roles> {
        let user = self.users.get(name);
        let hash = match user {
            Some(u) => u.hash.as_str(),
            None => dummy_hash()?,
        };
        let parsed = PasswordHash::new(hash).ok()?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        user.filter(|_| ok).map(|u| u.roles)
    }

    fn roles(&self, name: &str) -> Option<Roles> {
        self.users.get(name).map(|u| u.roles)
    }
}

/// A hash to check passwords of unknown users against, so that they take as long.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("no such user").ok())
        .as_deref()
}

struct Token {
    name: String,
    digest: blake3::Hash,
    roles: Roles,
}

/// The bearer tokens API clients may send (`Authorization: Bearer TOKEN`): a name, the
/// token and roles each.
///
/// Their file has one token a line, `NAME:TOKEN:ROLES`, the token at least
/// [`MIN_TOKEN_LEN`] characters without `:` or spaces; blank lines and lines starting
/// with `#` are skipped. Keep it readable by the pipeline's user only:
///
/// ```text
/// prometheus:3f9c1e0b7d2a4c68b5e1:monitor
/// ci-bot:8d7e6f5a4b3c2d1e0f9a:builder
/// ```
#[derive(Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

impl Tokens {
    /// No tokens.
    pub fn new() -> Tokens {
        Tokens::default()
    }

    /// Add the token `token` named `name` with `roles`. Refused: a bad or repeated name,
    /// a token shorter than [`MIN_TOKEN_LEN`] or with `:` or white space in it, a token
    /// already added.
    pub fn add(&mut self, name: &str, token: &str, roles: Roles) -> Result<(), AuthError> {
        self.insert(name, token, roles).map_err(AuthError::Invalid)
    }

    fn insert(&mut self, name: &str, token: &str, roles: Roles) -> Result<(), String> {
        check_name(name)?;
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(format!(
                "the token of {name:?} is too short: it needs at least {MIN_TOKEN_LEN} characters"
            ));
        }
        if token
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "the token of {name:?} has ':', a space or a control character in it"
            ));
        }
        if self.tokens.iter().any(|t| t.name == name) {
            return Err(format!("the token name {name:?} is there twice"));
        }
        let digest = blake3::hash(token.as_bytes());
        if self.tokens.iter().any(|t| t.digest == digest) {
            return Err(format!("the token of {name:?} is already another's"));
        }
        self.tokens.push(Token {
            name: name.to_string(),
            digest,
            roles,
        });
        Ok(())
    }

    /// The tokens of the file at `path`. A file others may read is taken, with a warning.
    pub fn load(path: &Path) -> Result<Tokens, AuthError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        "{} holds secrets but others may read it: chmod 600 it",
                        path.display()
                    );
                }
            }
        }
        Tokens::parse(&read(path)?, path)
    }

    /// The tokens of `text`, the content of the file at `path` (named in errors; the
    /// tokens themselves never are).
    pub fn parse(text: &str, path: &Path) -> Result<Tokens, AuthError> {
        let mut tokens = Tokens::new();
        for (line, [name, token, roles]) in lines(text, path, "NAME:TOKEN:ROLES")? {
            let at = |message: String| AuthError::Line {
                path: path.to_path_buf(),
                line,
                message,
            };
            let roles = Roles::parse(roles).map_err(at)?;
            tokens.insert(name, token, roles).map_err(at)?;
        }
        Ok(tokens)
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The name and roles of `token`.
    fn find(&self, token: &str) -> Option<(&str, Roles)> {
        let digest = blake3::hash(token.as_bytes());
        // blake3::Hash compares in constant time.
        self.tokens
            .iter()
            .find(|t| t.digest == digest)
            .map(|t| (t.name.as_str(), t.roles))
    }
}

/// The argon2id PHC string of `password`, with a random salt and argon2's default
/// parameters: a line of a users file takes it as it is.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt: [u8; 16] = random();
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// `N` random bytes from the system. Should it fail (it does not on a running Linux), the
/// bytes are derived from the time, the process and `fastrand`, with an error logged.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Err(e) = getrandom::getrandom(&mut bytes) {
        tracing::error!("the system's random numbers failed ({e}): using weaker ones");
        let mut seed = blake3::Hasher::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        seed.update(&now.as_nanos().to_le_bytes());
        seed.update(&std::process::id().to_le_bytes());
        seed.update(&fastrand::u128(..).to_le_bytes());
        seed.finalize_xof().fill(&mut bytes);
    }
    bytes
}

/// A random nonce, as text safe in a cookie.
pub(crate) fn nonce() -> String {
    URL_SAFE_NO_PAD.encode(random::<16>())
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A session read from a valid cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) user: String,
    pub(crate) roles: Roles,
    pub(crate) nonce: String,
    /// Seconds since 1970.
    pub(crate) expires: u64,
}

/// Who may do what on a web page: no login and every role for everyone
/// ([`Auth::open`]), or users, tokens and an anonymous role ([`Auth::required`]).
pub struct Auth {
    required: bool,
    users: Users,
    tokens: Tokens,
    anonymous: Anonymous,
    key: [u8; 32],
    lifetime: Duration,
    secure_cookies: bool,
    /// Nonces of the sessions logged out, with their expiry.
    revoked: Arc<Mutex<HashMap<String, u64>>>,
}

impl Auth {
    /// No login: everyone holds every role. Right only on a loopback address, where only
    /// this machine's users reach the page. Forms still carry CSRF tokens.
    pub fn open() -> Auth {
        Auth {
            required: false,
            users: Users::new(),
            tokens: Tokens::new(),
            anonymous: Anonymous::Viewer,
            key: random(),
            lifetime: SESSION_LIFETIME,
            secure_cookies: false,
            revoked: Arc::default(),
        }
    }

    /// A login required: `users` log in on `/login` with their passwords, API clients send
    /// one of `tokens` as a bearer token; anyone else is a viewer (see
    /// [`with_anonymous`](Auth::with_anonymous)). Sessions last [`SESSION_LIFETIME`] and
    /// are signed with a random key made here: a restart logs everyone out.
    pub fn required(users: Users, tokens: Tokens) -> Auth {
        Auth {
            required: true,
            users,
            tokens,
            ..Auth::open()
        }
    }

    /// What a user who has not logged in may do (when a login is required).
    pub fn with_anonymous(mut self, anonymous: Anonymous) -> Auth {
        self.anonymous = anonymous;
        self
    }

    /// How long a session lasts.
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Auth {
        self.lifetime = lifetime;
        self
    }

    /// Mark cookies `Secure`: for a page served over HTTPS (through a proxy).
    pub fn with_secure_cookies(mut self, secure: bool) -> Auth {
        self.secure_cookies = secure;
        self
    }

    /// Sign sessions and CSRF tokens with `key` instead of a random one: sessions then
    /// outlive a restart. Keep it secret.
    pub fn with_key(mut self, key: [u8; 32]) -> Auth {
        self.key = key;
        self
    }

    /// Whether a login is required (otherwise everyone holds every role).
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The roles of someone who has not logged in.
    pub(crate) fn anonymous_roles(&self) -> Roles {
        if self.required {
            self.anonymous.roles()
        } else {
            Roles::ALL
        }
    }

    /// The users who may log in.
    pub(crate) fn users(&self) -> &Users {
        &self.users
    }

    /// The name and roles of bearer token `token`.
    pub(crate) fn token(&self, token: &str) -> Option<(&str, Roles)> {
        self.tokens.find(token)
    }

    fn mac(&self, purpose: &str, text: &str) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(purpose.as_bytes());
        h.update(b"\n");
        h.update(text.as_bytes());
        h.finalize()
    }

    /// A new session of `user` from `now`: the cookie's value, and the session.
    pub(crate) fn new_session(&self, user: &str, now: SystemTime) -> (String, Session) {
        let expires = seconds(now) + self.lifetime.as_secs();
        let nonce = nonce();
        let body = format!("{}.{expires}.{nonce}", URL_SAFE_NO_PAD.encode(user));
        let mac = URL_SAFE_NO_PAD.encode(self.mac("session-v1", &body).as_bytes());
        let roles = self.users.roles(user).unwrap_or(Roles::NONE);
        let session = Session {
            user: user.to_string(),
            roles,
            nonce,
            expires,
        };
        (format!("{body}.{mac}"), session)
    }

    /// The session of cookie value `value` if it is signed with this key, has not expired
    /// at `now`, was not logged out, and names a user there is.
    pub(crate) fn session(&self, value: &str, now: SystemTime) -> Option<Session> {
        let (body, mac) = value.rsplit_once('.')?;
        let mac: [u8; 32] = URL_SAFE_NO_PAD.decode(mac).ok()?.try_into().ok()?;
        if self.mac("session-v1", body) != blake3::Hash::from_bytes(mac) {
            return None;
        }
        let mut parts = body.split('.');
        let (user, expires, nonce) = (parts.next()?, parts.next()?, parts.next()?);
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
        let expires: u64 = expires.parse().ok()?;
        if expires <= seconds(now) {
            return None;
        }
        if self.lock_revoked().contains_key(nonce) {
            return None;
        }
        let roles = self.users.roles(&user)?;
        Some(Session {
            user,
            roles,
            nonce: nonce.to_string(),
            expires,
        })
    }

    fn lock_revoked(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // Every change is a single insert or retain: a panic cannot leave it half done.
        self.revoked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Log `session` out: its cookie is refused from now on.
    pub(crate) fn revoke(&self, session: &Session, now: SystemTime) {
        let now = seconds(now);
        let mut revoked = self.lock_revoked();
        revoked.retain(|_, expires| *expires > now);
        revoked.insert(session.nonce.clone(), session.expires);
    }

    /// The CSRF token of forms shown with `nonce` (the session's, or the `__csrf`
    /// cookie's).
    pub(crate) fn csrf_token(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("csrf-v1", nonce).as_bytes())
    }

    /// Whether `token` is the CSRF token of `nonce` (compared in constant time).
    pub(crate) fn csrf_ok(&self, nonce: &str, token: &str) -> bool {
        let Some(token) = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|t| <[u8; 32]>::try_from(t).ok())
        else {
            return false;
        };
        self.mac("csrf-v1", nonce) == blake3::Hash::from_bytes(token)
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// The `Set-Cookie` value of a session cookie.
    pub(crate) fn session_cookie(&self, value: &str) -> String {
        self.cookie(SESSION_COOKIE, value, self.lifetime.as_secs())
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub(crate) fn clear_session_cookie(&self) -> String {
        self.cookie(SESSION_COOKIE, "", 0)
    }

    /// The `Set-Cookie` value of a CSRF nonce (kept for the browser's session).
    pub(crate) fn csrf_cookie(&self, nonce: &str) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict{secure}")
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("required", &self.required)
            .field("users", &self.users.len())
            .field("tokens", &self.tokens.len())
            .field("anonymous", &self.anonymous)
            .field("lifetime", &self.lifetime)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("users.txt")
    }

    /// A cheap argon2 hash: the tests need not be slow.
    fn cheap(password: &str) -> String {
        let params = argon2::Params::new(64, 1, 1, None).expect("parameters");
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("a salt");
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .expect("a hash")
            .to_string()
    }

    fn error(text: &str) -> String {
        match Users::parse(text, p()) {
            Ok(_) => panic!("{text:?} was taken"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn roles_imply_what_they_should() {
        let admin = Roles::of(&[Role::Admin]);
        assert!(Role::ALL.iter().all(|r| admin.holds(*r)));
        let builder = Roles::of(&[Role::Builder]);
        assert!(builder.holds(Role::Viewer) && !builder.holds(Role::Monitor));
        let monitor = Roles::of(&[Role::Monitor]);
        assert!(!monitor.holds(Role::Viewer));
        assert_eq!(
            Roles::parse("builder, monitor").map(|r| r.to_string()),
            Ok("viewer,builder,monitor".to_string())
        );
        assert_eq!(Roles::NONE.to_string(), "(none)");
    }

    #[test]
    fn a_users_file_is_read() {
        let text = format!(
            "# comment\n\nalice:{}:admin\nbob : {} : builder,monitor\n",
            cheap("a"),
            cheap("b")
        );
        let users = Users::parse(&text, p()).expect("read");
        assert_eq!(users.len(), 2);
        assert_eq!(users.check_password("alice", "a"), Some(Roles::ALL));
        assert_eq!(users.check_password("alice", "b"), None);
        assert_eq!(
            users.check_password("bob", "b"),
            Some(Roles::of(&[Role::Builder, Role::Monitor]))
        );
        assert_eq!(users.check_password("carol", "a"), None);
    }

    #[test]
    fn a_bad_users_file_names_the_file_and_line() {
        let h = cheap("x");
        assert_eq!(
            error("\nalice:admin\n"),
            "users.txt:2: expected NAME:PASSWORD-HASH:ROLES: three fields separated by ':', found 2"
        );
        assert_eq!(
            error(&format!("alice:{h}:root")),
            "users.txt:1: unknown role \"root\": the roles are viewer, builder, monitor, admin"
        );
        assert_eq!(
            error(&format!("alice:{h}:")),
            "users.txt:1: no roles: give one or more of viewer, builder, monitor, admin"
        );
        assert_eq!(
            error("alice:secret:admin"),
            "users.txt:1: the password hash of \"alice\" is not a PHC string: password hash string missing field"
        );
        assert_eq!(
            error("alice:$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW:admin"),
            "users.txt:1: the password hash of \"alice\" is not a PHC string: salt invalid: value to short"
        );
        assert_eq!(
            error("alice:$scrypt$ln=17,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo:admin"),
            "users.txt:1: the password hash of \"alice\" is scrypt, not argon2 (make one with `current-ctl hash-password`)"
        );
        assert_eq!(
            error(&format!("al ice:{h}:admin")),
            "users.txt:1: the name \"al ice\" is not allowed: use 1 to 64 letters, digits, '-', '_', '.', '@'"
        );
        assert_eq!(
            error(&format!("alice:{h}:admin\n# again\nalice:{h}:viewer")),
            "users.txt:3: the user \"alice\" is there twice"
        );
        let missing = Users::load(Path::new("/nonexistent/users.txt"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            missing.as_deref(),
            Some("cannot read /nonexistent/users.txt: No such file or directory (os error 2)")
        );
    }

    #[test]
    fn a_tokens_file_is_read_and_its_errors_hide_the_tokens() {
        let path = Path::new("tokens.txt");
        let tokens = Tokens::parse(
            "prom:0123456789abcdef:monitor\nci:fedcba9876543210xyz:builder\n",
            path,
        )
        .expect("read");
        assert_eq!(
            tokens.find("0123456789abcdef"),
            Some(("prom", Roles::of(&[Role::Monitor])))
        );
        assert_eq!(tokens.find("0123456789abcdeg"), None);
        let error = |text: &str| {
            Tokens::parse(text, path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            error("prom:short:monitor"),
            "tokens.txt:1: the token of \"prom\" is too short: it needs at least 16 characters"
        );
        assert_eq!(
            error("a:0123456789abcdef:monitor\nb:0123456789abcdef:viewer"),
            "tokens.txt:2: the token of \"b\" is already another's"
        );
        assert_eq!(
            error("a:0123456789abcdef"),
            "tokens.txt:1: expected NAME:TOKEN:ROLES: three fields separated by ':', found 2"
        );
    }

    #[test]
    fn sessions_are_signed_expire_and_can_be_revoked() {
        let mut users = Users::new();
        users
            .add("alice", &cheap("a"), Roles::of(&[Role::Builder]))
            .expect("added");
        let auth = Auth::required(users, Tokens::new());
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (cookie, session) = auth.new_session("alice", t0);
        assert_eq!(auth.session(&cookie, t0), Some(session.clone()));
        assert_eq!(session.roles, Roles::of(&[Role::Builder]));

        // Another user's name with the same signature, or another key, is refused.
        let (_, rest) = cookie.split_once('.').expect("dots");
        let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode("admin"));
        assert_eq!(auth.session(&forged, t0), None);
        let other = Auth::required(Users::new(), Tokens::new());
        assert_eq!(other.session(&cookie, t0), None);

        let later = t0 + SESSION_LIFETIME;
        assert_eq!(auth.session(&cookie, later), None, "expired");

        let csrf = auth.csrf_token(&session.nonce);
        assert!(auth.csrf_ok(&session.nonce, &csrf));
        assert!(!auth.csrf_ok("another", &csrf));
        assert!(!auth.csrf_ok(&session.nonce, "nonsense"));

        auth.revoke(&session, t0);
        assert_eq!(auth.session(&cookie, t0), None, "logged out");
    }

    #[test]
    fn a_hashed_password_checks() {
        let hash = hash_password("pw").expect("hashed");
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        let mut users = Users::new();
        users.add("u", &hash, Roles::ALL).expect("added");
        assert_eq!(users.check_password("u", "pw"), Some(Roles::ALL));
    }
}
