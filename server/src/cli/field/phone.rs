//! The phone's directory: its settings (`phone.toml`: server, token,
//! device, cadre) beside its replica (`records/`, a sled database), and
//! setting a phone up with `fengqiao field init`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use fengqiao_protocol::{DeviceId, DocumentId, Scope, VillageCode};
use fengqiao_shared::Millis;
use fengqiao_shared::record::Author;
use fengqiao_shared::replica::http::now_millis;
use fengqiao_shared::replica::{Replica, ReplicaError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lang::{Lang, Names};
use super::words::clip;
use crate::cli::{CliError, HttpClient};

/// The settings file inside the phone's directory.
pub const SETTINGS: &str = "phone.toml";
/// The replica's folder inside the phone's directory.
pub const RECORDS: &str = "records";

/// Who the phone is and where it syncs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// The server's base URL.
    pub server: String,
    /// The device's bearer token.
    pub token: String,
    /// The enrolled device id; the phone's Automerge actors start with it.
    pub device: DeviceId,
    /// The person written into records as their author.
    pub cadre: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_name: Option<String>,
    /// The device's role and scope, when the server told them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The village new records belong to when `--village` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub village: Option<String>,
    /// Set up with the server's development token.
    #[serde(default)]
    pub development: bool,
    /// Names of the places of the device's scope (code → name), from
    /// `GET /v1/places` at set-up and at each sync.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub places: BTreeMap<String, String>,
    /// Names of the people the device works beside (id → name), from
    /// `GET /v1/people` at set-up and at each sync.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub people: BTreeMap<String, String>,
}

impl Settings {
    fn load(dir: &Path) -> Result<Settings, CliError> {
        let path = dir.join(SETTINGS);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CliError::new(format!(
                    "no phone is set up in {}: set one up with \
                     `fengqiao field init --setup '<payload from fengqiao admin enroll>'`, \
                     or point --dir (FENGQIAO_FIELD_DIR) at an existing phone",
                    dir.display()
                )));
            }
            Err(e) => {
                return Err(CliError::new(format!(
                    "cannot read {}: {e}; check the directory's permissions",
                    path.display()
                )));
            }
        };
        toml::from_str(&text).map_err(|e| {
            CliError::new(format!(
                "{} is damaged ({}); fix it by hand, or set the phone up again with \
                 `fengqiao field init … --force` (unsynced changes would be lost)",
                path.display(),
                e.message()
            ))
        })
    }

    fn save(&self, dir: &Path) -> Result<(), CliError> {
        let path = dir.join(SETTINGS);
        let body = toml::to_string(self)
            .map_err(|e| CliError::new(format!("cannot write the phone's settings: {e}")))?;
        let text = format!(
            "# A Fengqiao phone on this computer, used by `fengqiao field`.\n\
             # Keep this file private: it holds the device's token.\n\n{body}"
        );
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .map_err(|e| {
                CliError::new(format!(
                    "cannot write {}: {e}; check that the directory is writable",
                    path.display()
                ))
            })
    }
}

/// An open phone: its settings and its replica.
pub struct Phone {
    pub dir: PathBuf,
    pub settings: Settings,
    pub replica: Replica,
    /// The language lists and reports are printed in.
    pub lang: Lang,
}

/// A replica failure, with what to do about it.
pub fn replica_error(dir: &Path, error: ReplicaError) -> CliError {
    match error {
        ReplicaError::Storage(e) => CliError::new(format!(
            "the phone's records in {} cannot be used: {e}; if another `fengqiao field` \
             command is running on this phone, wait for it and try again",
            dir.display()
        )),
        ReplicaError::NotFound(id) => CliError::new(format!(
            "no record {id} on this phone; list the records with `fengqiao field dispute list` \
             or `fengqiao field visit list`"
        )),
        other => CliError::new(other.to_string()),
    }
}

fn open_replica(dir: &Path, device: DeviceId) -> Result<Replica, CliError> {
    Replica::open(dir.join(RECORDS), device).map_err(|e| replica_error(dir, e))
}

impl Phone {
    /// Opens the phone set up in `dir`.
    pub fn open(dir: &Path) -> Result<Phone, CliError> {
        let settings = Settings::load(dir)?;
        let replica = open_replica(dir, settings.device)?;
        Ok(Phone {
            dir: dir.to_owned(),
            settings,
            replica,
            lang: Lang::default(),
        })
    }

    /// This phone printing in `lang`.
    pub fn speaking(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    /// The names of places and people this phone knows.
    pub fn names(&self) -> Names {
        Names {
            places: self.settings.places.clone(),
            people: self.settings.people.clone(),
        }
    }

    /// Asks the server again for the names of places and people and keeps
    /// them in the settings; best effort (names are a nicety: a failure
    /// keeps the ones known).
    pub fn refresh_names(&mut self) {
        if learn_names(&mut self.settings) {
            // A settings file that cannot be written keeps the old names;
            // the sync itself succeeded.
            let _ = self.settings.save(&self.dir);
        }
    }

    /// A replica result, with what to do about a failure.
    pub fn check<T>(&self, result: Result<T, ReplicaError>) -> Result<T, CliError> {
        result.map_err(|e| replica_error(&self.dir, e))
    }

    /// The author of an edit made now, or at `at`.
    pub fn author(&self, at: Option<Millis>) -> Author {
        Author::new(self.settings.cadre.clone(), at.unwrap_or_else(now_millis))
    }

    /// The village of a new record: the one given, or the phone's default.
    pub fn village(&self, given: Option<VillageCode>) -> Result<VillageCode, CliError> {
        let village = match given {
            Some(village) => village,
            None => self
                .settings
                .village
                .as_deref()
                .and_then(|v| VillageCode::new(v).ok())
                .ok_or_else(|| {
                    CliError::new(
                        "which village? pass --village CODE (12 digits, e.g. 500110101001), \
                         or set a default with `fengqiao field init … --village CODE`",
                    )
                })?,
        };
        if let Some(scope) = self.settings.scope.as_deref()
            && let Ok(parsed) = Scope::parse(scope)
            && !parsed.contains(&village)
        {
            return Err(CliError::new(format!(
                "village {village} is outside this device's scope ({scope}), so the server would \
                 refuse the record; use a village code that starts with {scope}"
            )));
        }
        Ok(village)
    }

    /// The title of a record held, for messages ("" when unknown).
    pub fn title(&self, id: &DocumentId) -> String {
        self.replica
            .state(id)
            .ok()
            .and_then(|s| s.summary)
            .map(|s| s.title)
            .unwrap_or_default()
    }

    /// The record named by `text`: its id, its `automerge:` URL, or the
    /// start of its id when that is unique on this phone.
    pub fn resolve(&self, text: &str) -> Result<DocumentId, CliError> {
        let wanted = text.trim();
        let wanted = wanted.strip_prefix("automerge:").unwrap_or(wanted);
        let wanted = wanted.split('#').next().unwrap_or_default();
        if wanted.is_empty() {
            return Err(CliError::new(
                "which record? give its id, or the first few characters of it",
            ));
        }
        let ids = self.check(self.replica.ids())?;
        if let Some(id) = ids.iter().find(|id| id.as_str() == wanted) {
            return Ok(id.clone());
        }
        let matches: Vec<&DocumentId> = ids
            .iter()
            .filter(|id| id.as_str().starts_with(wanted))
            .collect();
        match matches.as_slice() {
            [id] => Ok((*id).clone()),
            [] => Err(CliError::new(format!(
                "no record on this phone has an id starting with {wanted:?}; list them with \
                 `fengqiao field dispute list` or `fengqiao field visit list` (a record made on \
                 another phone arrives with `fengqiao field sync`)"
            ))),
            many => {
                let listed: Vec<String> = many
                    .iter()
                    .take(5)
                    .map(|id| format!("  {id}  {}", clip(&self.title(id), 40)))
                    .collect();
                Err(CliError::new(format!(
                    "{wanted:?} starts the ids of {} records; type more of the id:\n{}",
                    many.len(),
                    listed.join("\n")
                )))
            }
        }
    }
}

/// `fengqiao field init`'s choices.
pub struct Init {
    pub server: Option<String>,
    pub token: Option<String>,
    pub setup: Option<String>,
    pub cadre: Option<String>,
    pub village: Option<VillageCode>,
    pub force: bool,
}

/// What an enrollment gives a phone (`fengqiao admin enroll` prints it).
#[derive(Deserialize)]
struct SetupPayload {
    server: String,
    token: String,
    device: DeviceId,
}

fn read_setup(text: &str) -> Result<SetupPayload, CliError> {
    let text = text.trim();
    let pasted = crate::http::SetupPayload::json_from_text(text);
    let json = if let Some(json) = pasted.filter(|json| json.starts_with('{')) {
        json
    } else {
        std::fs::read_to_string(text).map_err(|e| {
            CliError::new(format!(
                "--setup takes the set-up link or payload printed by `fengqiao admin enroll` \
                 ({{\"server\": …, \"token\": …, \"device\": …}}) or a file holding it; \
                 {text:?} is neither ({e})"
            ))
        })?
    };
    serde_json::from_str(&json).map_err(|e| {
        CliError::new(format!(
            "the set-up payload is not usable: {e}; copy it whole from the output of \
             `fengqiao admin enroll` (it looks like {{\"server\":\"http://…\",\"token\":\"fq_…\",\"device\":\"…\"}})"
        ))
    })
}

/// Asks the server who `token` belongs to (`GET /v1/me`).
fn whoami(server: &str, token: &str) -> Result<Value, CliError> {
    HttpClient::new(server, token).get("/v1/me")
}

fn text(value: &Value, key: &str) -> Option<String> {
    value[key].as_str().map(str::to_owned)
}

/// A description of the phone already in `dir`, for the refusal to
/// replace it.
fn describe_existing(dir: &Path) -> String {
    let Ok(settings) = Settings::load(dir) else {
        return String::new();
    };
    let mut out = format!(" (device {}, cadre {}", settings.device, settings.cadre);
    if let Ok(replica) = Replica::open(dir.join(RECORDS), settings.device) {
        let held = replica.ids().map(|ids| ids.len()).unwrap_or(0);
        let dirty = replica.dirty().map(|ids| ids.len()).unwrap_or(0);
        out.push_str(&format!(", {held} records, {dirty} not yet synced"));
    }
    out.push(')');
    out
}

/// Sets a phone up in `dir`.
pub fn init(dir: &Path, init: Init) -> Result<(), CliError> {
    let existing = dir.join(SETTINGS).exists() || dir.join(RECORDS).exists();
    if existing && !init.force {
        return Err(CliError::new(format!(
            "{} already holds a phone{}; to replace it, run the same command with --force \
             (its unsynced changes would be lost: run `fengqiao field sync` first), \
             or choose another directory with --dir",
            dir.display(),
            describe_existing(dir)
        )));
    }

    // Whether the server answered during set-up (then its names are asked
    // for too; a phone set up offline learns them at its first sync).
    let mut online = false;
    let mut settings = match (init.setup, init.server, init.token) {
        (Some(setup), _, _) => {
            let payload = read_setup(&setup)?;
            let mut settings = Settings {
                server: payload.server.trim_end_matches('/').to_owned(),
                token: payload.token,
                device: payload.device,
                cadre: String::new(),
                person_name: None,
                role: None,
                scope: None,
                village: None,
                development: false,
                places: BTreeMap::new(),
                people: BTreeMap::new(),
            };
            match init.cadre {
                // Everything is known: no connection needed.
                Some(cadre) => settings.cadre = cadre,
                None => {
                    let me = whoami(&settings.server, &settings.token).map_err(|e| {
                        CliError::new(format!(
                            "{e}\nto set the phone up without a connection, pass --cadre PERSON-ID \
                             (the person the device was enrolled for)"
                        ))
                    })?;
                    learn(&mut settings, &me)?;
                    online = true;
                    if me["device"].as_str() != Some(&settings.device.to_string()) {
                        return Err(CliError::new(format!(
                            "the token in the set-up payload belongs to another device than {}; \
                             copy the payload again from `fengqiao admin enroll`",
                            settings.device
                        )));
                    }
                }
            }
            settings
        }
        (None, Some(server), Some(token)) => {
            let server = server.trim_end_matches('/').to_owned();
            let me = whoami(&server, &token)?;
            online = true;
            let device = match me["device"].as_str() {
                Some(device) => device.parse().map_err(|_| {
                    CliError::new(format!(
                        "the server named this token's device {device:?}, which is not a device id; \
                         is {server} a Fengqiao server?"
                    ))
                })?,
                // The development token belongs to no device.
                None => DeviceId::random(),
            };
            let mut settings = Settings {
                server,
                token,
                device,
                cadre: String::new(),
                person_name: None,
                role: None,
                scope: None,
                village: None,
                development: false,
                places: BTreeMap::new(),
                people: BTreeMap::new(),
            };
            learn(&mut settings, &me)?;
            if let Some(cadre) = init.cadre {
                settings.cadre = cadre;
            }
            settings
        }
        _ => {
            return Err(CliError::new(
                "say where the phone syncs: --setup '<payload from fengqiao admin enroll>', \
                 or --server URL --token TOKEN",
            ));
        }
    };
    if settings.cadre.trim().is_empty() {
        return Err(CliError::new(
            "this is the server's development token, which belongs to no person: \
             pass --cadre PERSON-ID, the id written into records as their author",
        ));
    }
    settings.village = match init.village {
        Some(village) => Some(village.as_str().to_owned()),
        None => settings
            .scope
            .as_deref()
            .filter(|s| s.len() == VillageCode::LEN && VillageCode::new(s).is_ok())
            .map(str::to_owned),
    };

    if existing {
        remove(&dir.join(SETTINGS), false)?;
        remove(&dir.join(RECORDS), true)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::new(format!(
            "cannot create {}: {e}; choose a writable place with --dir",
            dir.display()
        ))
    })?;
    drop(open_replica(dir, settings.device)?);
    if online {
        // The server answered a moment ago: learn the names it shows.
        learn_names(&mut settings);
    }
    settings.save(dir)?;

    println!("phone set up in {}", dir.display());
    println!("  device  {}", settings.device);
    match &settings.person_name {
        Some(name) => println!("  cadre   {} ({name})", settings.cadre),
        None => println!("  cadre   {}", settings.cadre),
    }
    if let (Some(role), Some(scope)) = (&settings.role, &settings.scope) {
        println!("  access  {role} over {scope}");
    }
    println!("  server  {}", settings.server);
    if settings.development {
        println!("  (development token: every record is visible; never use it in the field)");
    }
    let village = settings.village.as_deref().unwrap_or("500110101001");
    println!(
        "\nnext: record a dispute offline, then send it when there is signal:\n  \
         fengqiao field dispute new --village {village} --title \"宅基地边界纠纷\" --party 张三:applicant\n  \
         fengqiao field sync"
    );
    Ok(())
}

/// Takes the names of places and people the server gives into the
/// settings; whether any changed.
fn learn_names(settings: &mut Settings) -> bool {
    let client = HttpClient::new(&settings.server, &settings.token);
    let (places, people) = Names::fetch(&client);
    let mut changed = false;
    if let Some(places) = places.filter(|p| *p != settings.places) {
        settings.places = places;
        changed = true;
    }
    if let Some(people) = people.filter(|p| *p != settings.people) {
        settings.people = people;
        changed = true;
    }
    changed
}

/// Takes what `GET /v1/me` said about the token into the settings.
fn learn(settings: &mut Settings, me: &Value) -> Result<(), CliError> {
    if me["development"].as_bool() == Some(true) {
        settings.development = true;
        return Ok(());
    }
    if me["device"].is_null() {
        return Err(CliError::new(format!(
            "{} did not say which device the token belongs to; is it a Fengqiao server? (check --server)",
            settings.server
        )));
    }
    if settings.cadre.is_empty() {
        settings.cadre = text(me, "person").unwrap_or_default();
    }
    settings.person_name = text(me, "personName");
    settings.role = text(me, "role");
    settings.scope = text(me, "scope").filter(|s| Scope::parse(s).is_ok());
    Ok(())
}

fn remove(path: &Path, folder: bool) -> Result<(), CliError> {
    let result = if folder {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::new(format!(
            "cannot remove {} to replace the phone: {e}; remove it by hand and run the command again",
            path.display()
        ))),
    }
}
