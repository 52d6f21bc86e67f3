//! `fengqiao admin …`: the organisation, people, devices and quarantine,
//! through a running server's admin API.
//!
//! The admin token comes from `--admin-token`, `FENGQIAO_ADMIN_TOKEN`, or
//! the server's data directory (`--data DIR` reads `DIR/admin.token`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use fengqiao_shared::access::Role;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde_json::{Value, json};

use super::{CliError, HttpClient};

#[derive(Args)]
pub struct AdminArgs {
    /// The server's URL.
    #[arg(long, env = "FENGQIAO_SERVER", default_value = "http://127.0.0.1:8470")]
    pub server: String,
    /// The admin token (default: read from DATA/admin.token).
    #[arg(long, env = "FENGQIAO_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The server's data directory, to read its admin token from.
    #[arg(long, env = "FENGQIAO_DATA", default_value = "./fengqiao-data")]
    pub data: PathBuf,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// The organisation: districts, towns and villages.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Register a person (cadre, official, supervisor) who will hold devices.
    ///
    /// Example: fengqiao admin person zhang-san 张三 --phone 13800000000 --scope 500110101001
    Person {
        /// A stable id, written into records as the author.
        id: String,
        /// The person's name.
        name: String,
        #[arg(long)]
        phone: Option<String>,
        /// Where the person works (district, town or village code): their
        /// devices lie inside it, and admins over it manage them. Required
        /// with a scoped admin device's token.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Enroll a device for a person and print its token, the field app's set-up link and its QR code.
    ///
    /// Example: fengqiao admin enroll --person zhang-san --role cadre --scope 500110101001
    Enroll {
        #[arg(long)]
        person: String,
        /// cadre, town, district, supervisor or admin.
        #[arg(long)]
        role: Role,
        /// A district (6 digits), town (9) or village (12) code.
        #[arg(long)]
        scope: String,
        /// Let a district device write (district devices are read-only by default).
        #[arg(long)]
        write: bool,
        /// A name for the device, e.g. "张三的手机".
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List enrolled devices.
    List,
    /// Issue a new token for a device; the old one stops working.
    Rotate { device: String },
    /// Revoke a device: refused at its next request, live connections closed.
    Revoke { device: String },
    /// Move a device to another role or scope; the phone purges records it
    /// may no longer hold at its next sync.
    ///
    /// Example: fengqiao admin reassign DEVICE --role cadre --scope 500110101002
    Reassign {
        device: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        scope: String,
        #[arg(long)]
        write: bool,
    },
    /// A record's audit trail: every change, when, by which device and person.
    History {
        /// The record's document id or automerge: URL.
        record: String,
    },
    /// Remove an abusive record for good: it is no longer served on either
    /// door nor counted, and its id refuses new changes (`removed`). The
    /// removal (who, when, why) is kept.
    ///
    /// Example: fengqiao admin remove RECORD --reason "5 MB of junk text"
    Remove {
        /// The record's document id.
        record: String,
        /// Why, for the record of the removal (required).
        #[arg(long)]
        reason: String,
    },
    /// Changes the server refused, with reason, device and record.
    Quarantine {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Import places from a CSV (`code,name` lines) or TOML file; merges.
    ///
    /// Example: fengqiao admin org import qijiang.csv
    Import { file: PathBuf },
    /// List the organisation.
    List,
}

/// The admin token: given, or read from the data directory.
pub fn admin_token(given: Option<&str>, data: &std::path::Path) -> Result<String, CliError> {
    if let Some(token) = given {
        return Ok(token.to_owned());
    }
    let path = data.join("admin.token");
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_owned())
        .map_err(|e| {
            CliError::new(format!(
                "no admin token: cannot read {} ({e}); pass --admin-token or set FENGQIAO_ADMIN_TOKEN",
                path.display()
            ))
        })
}

/// A set-up payload as a terminal QR code.
pub fn qr(payload: &str) -> String {
    match QrCode::new(payload.as_bytes()) {
        Ok(code) => code
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(e) => format!("(no QR code: {e})"),
    }
}

fn print_token(response: &Value) {
    let token = response["token"].as_str().unwrap_or_default();
    println!("token (shown once; store it on the device now):\n\n  {token}\n");
    let setup = response["setup"].to_string();
    let link = response["link"].as_str().unwrap_or_default();
    println!(
        "set-up link for the field app — open it on the phone, or scan the QR code \
         below with the phone's camera:\n  {link}\n"
    );
    println!("{}", qr(link));
    println!(
        "set-up payload (also accepted by `fengqiao field init --setup`, or pasted into \
         the app):\n  {setup}\n"
    );
}

fn table(rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

pub fn run(args: AdminArgs) -> Result<(), CliError> {
    let client = HttpClient::new(
        &args.server,
        &admin_token(args.admin_token.as_deref(), &args.data)?,
    );
    match args.command {
        AdminCommand::Org(OrgCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", file.display())))?;
            let format = match file.extension().and_then(|e| e.to_str()) {
                Some("toml") => "toml",
                _ => "csv",
            };
            let report = client.post("/v1/admin/org", json!({"format": format, "text": text}))?;
            println!(
                "imported {}: {} added, {} renamed, {} unchanged",
                file.display(),
                report["added"],
                report["renamed"],
                report["unchanged"]
            );
        }
        AdminCommand::Org(OrgCommand::List) => {
            let org = client.get("/v1/admin/org")?;
            let mut rows = vec![vec!["code".into(), "name".into()]];
            for level in ["districts", "towns", "villages"] {
                if let Some(map) = org[level].as_object() {
                    for (code, name) in map {
                        rows.push(vec![code.clone(), name.as_str().unwrap_or("").into()]);
                    }
                }
            }
            rows[1..].sort();
            table(&rows);
        }
        AdminCommand::Person {
            id,
            name,
            phone,
            scope,
        } => {
            let person = client.post(
                "/v1/admin/people",
                json!({"id": id, "name": name, "phone": phone, "scope": scope}),
            )?;
            println!(
                "registered {} ({})",
                person["name"].as_str().unwrap_or(""),
                person["id"].as_str().unwrap_or("")
            );
        }
        AdminCommand::Enroll {
            person,
            role,
            scope,
            write,
            label,
        } => {
            let response = client.post(
                "/v1/admin/devices",
                json!({"person": person, "role": role, "scope": scope, "write": write, "label": label}),
            )?;
            println!(
                "enrolled device {} for {} as {} over {}\n",
                response["device"]["id"].as_str().unwrap_or(""),
                person,
                role.as_str(),
                scope
            );
            print_token(&response);
        }
        AdminCommand::List => {
            let devices = client.get("/v1/admin/devices")?;
            let mut rows = vec![
                [
                    "device", "person", "role", "scope", "write", "label", "state",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for d in devices.as_array().into_iter().flatten() {
                let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
                rows.push(vec![
                    s("id"),
                    format!("{} {}", s("person"), s("personName")),
                    s("role"),
                    s("scope"),
                    d["write"].as_bool().unwrap_or(false).to_string(),
                    s("label"),
                    if d["revokedAt"].is_number() {
                        "revoked"
                    } else {
                        "active"
                    }
                    .into(),
                ]);
            }
            table(&rows);
        }
        AdminCommand::Rotate { device } => {
            let response = client.post(&format!("/v1/admin/devices/{device}/rotate"), json!({}))?;
            println!("new token for device {device}; the old one no longer works\n");
            print_token(&response);
        }
        AdminCommand::Revoke { device } => {
            client.post(&format!("/v1/admin/devices/{device}/revoke"), json!({}))?;
            println!("revoked device {device}; it is refused from its next request on");
        }
        AdminCommand::Reassign {
            device,
            role,
            scope,
            write,
        } => {
            let d = client.put(
                &format!("/v1/admin/devices/{device}/access"),
                json!({"role": role, "scope": scope, "write": write}),
            )?;
            println!(
                "device {device} is now {} over {}; its phone purges what it may no longer hold at its next sync",
                d["role"].as_str().unwrap_or(""),
                d["scope"].as_str().unwrap_or("")
            );
        }
        AdminCommand::History { record } => {
            let entries = client.get(&format!("/v1/admin/records/{record}/history"))?;
            let mut rows = vec![
                ["time", "person", "device", "change"]
                    .map(String::from)
                    .to_vec(),
            ];
            for e in entries.as_array().into_iter().flatten() {
                rows.push(vec![
                    super::format_time(e["at"].as_i64().unwrap_or(0)),
                    format!(
                        "{} {}",
                        e["person"].as_str().unwrap_or("?"),
                        e["personName"].as_str().unwrap_or("")
                    ),
                    e["deviceLabel"]
                        .as_str()
                        .unwrap_or("(unknown device)")
                        .to_owned(),
                    e["summary"].as_str().unwrap_or("").to_owned(),
                ]);
            }
            table(&rows);
        }
        AdminCommand::Remove { record, reason } => {
            let removal = client.post(
                &format!("/v1/admin/records/{record}/remove"),
                json!({ "reason": reason }),
            )?;
            println!(
                "removed record {record} of village {} at {} ({}): {}",
                removal["village"].as_str().unwrap_or("?"),
                super::format_time(removal["at"].as_i64().unwrap_or(0)),
                removal["by"].as_str().unwrap_or("?"),
                removal["reason"].as_str().unwrap_or("")
            );
            println!("it is no longer served or counted, and its id takes no new changes");
        }
        AdminCommand::Quarantine { limit } => {
            let entries = client.get(&format!("/v1/admin/quarantine?limit={limit}"))?;
            let mut rows = vec![
                ["time", "record", "device", "code", "reason"]
                    .map(String::from)
                    .to_vec(),
            ];
            for e in entries.as_array().into_iter().flatten() {
                rows.push(vec![
                    super::format_time(e["at"].as_i64().unwrap_or(0)),
                    e["record"].as_str().unwrap_or("").to_owned(),
                    e["device"].as_str().unwrap_or("-").to_owned(),
                    e["code"].as_str().unwrap_or("").to_owned(),
                    e["reason"].as_str().unwrap_or("").to_owned(),
                ]);
            }
            if rows.len() == 1 {
                println!("nothing quarantined");
            } else {
                table(&rows);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_up_payloads_render_as_qr_codes() {
        let text = qr(r#"{"server":"http://127.0.0.1:8470","token":"fq_abc"}"#);
        assert!(text.lines().count() > 10);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'));
    }
}
