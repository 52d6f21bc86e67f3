//! `fengqiao field …`: a phone on the command line.
//!
//! A directory (`--dir`, default `./fengqiao-phone`) plays the part of a
//! cadre's phone: it holds the same replica the app keeps, so records are
//! created and edited fully offline, validated by the same rules the
//! server applies, and sent with `fengqiao field sync` when there is
//! signal. Concurrent edits from other phones merge at sync; `show`
//! prints the merged record. A deterministic `--at` on every edit lets a
//! script play out days of field work in seconds.

mod lang;
mod phone;
mod records;
mod sync;
mod text;
mod words;

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use fengqiao_protocol::VillageCode;
use fengqiao_shared::Millis;
use fengqiao_shared::record::Party;
use fengqiao_shared::vocab::{Category, EventKind, Level, Risk, Sentiment, Status, Topic};

use super::CliError;
use phone::Phone;
use words::{parse_party, parse_time, parse_word};

const FIELD_EXAMPLES: &str = "\
Examples:
  # set up a phone from the payload `fengqiao admin enroll` printed
  fengqiao field init --setup '{\"server\":\"http://127.0.0.1:8470\",\"token\":\"fq_…\",\"device\":\"…\"}'

  # record a dispute offline, then add to its timeline
  fengqiao field dispute new --village 500110101001 --title 宅基地边界纠纷 \\
      --category land --risk medium --party 张三:applicant --party 李四:respondent
  fengqiao field dispute event 2iaw mediation --note \"双方到村委会调解\"

  # send and receive when there is signal
  fengqiao field sync
  fengqiao field status

Several phones: give each its own --dir (or FENGQIAO_FIELD_DIR).";

const DISPUTE_EXAMPLES: &str = "\
Examples:
  fengqiao field dispute new --village 500110101001 --title 宅基地边界纠纷 --category land \\
      --risk medium --party 张三:applicant --party 李四:respondent --at 2025-03-01
  fengqiao field dispute edit 2iaw --risk high --assign li-si
  fengqiao field dispute event 2iaw escalated --level town --note 需镇综治中心协调
  fengqiao field dispute list --status escalated --text 张三
  fengqiao field dispute show 2iaw

A record is named by its id or by the first characters of it (2iaw above).";

const VISIT_EXAMPLES: &str = "\
Examples:
  fengqiao field visit new --village 500110101001 --household 王家 --topic livelihood \\
      --sentiment concern --notes 老人看病难 --follow-up-due 2025-04-01
  fengqiao field visit edit 3Fq8 --follow-up-done
  fengqiao field visit list --follow-up
  fengqiao field visit show 3Fq8";

#[derive(Args)]
#[command(after_help = FIELD_EXAMPLES)]
pub struct FieldArgs {
    /// The phone's directory: its settings (phone.toml) and its records.
    #[arg(
        long,
        global = true,
        env = "FENGQIAO_FIELD_DIR",
        default_value = "./fengqiao-phone"
    )]
    pub dir: PathBuf,
    /// The language of lists and reports: zh (中文, the default) or en.
    #[arg(
        long,
        global = true,
        env = "FENGQIAO_LANG",
        value_enum,
        default_value = "zh"
    )]
    pub lang: lang::Lang,
    #[command(subcommand)]
    pub command: FieldCommand,
}

#[derive(Subcommand)]
pub enum FieldCommand {
    /// Set up a phone: the server, the device's token, the cadre
    ///
    /// From the set-up payload an admin's `fengqiao admin enroll` printed
    /// (no connection needed with --cadre), or from a server URL and a
    /// token (asks the server once who the token belongs to). With the
    /// server's development token, a device id is made up and --cadre is
    /// required.
    ///
    /// Examples:
    ///
    ///   fengqiao field init --setup '{"server":"http://127.0.0.1:8470","token":"fq_…","device":"…"}'
    ///
    ///   fengqiao field init --server http://127.0.0.1:8470 --token devtoken --cadre zhang-san
    #[command(
        verbatim_doc_comment,
        group(ArgGroup::new("source").required(true).args(["setup", "server"]))
    )]
    Init {
        /// The set-up payload (JSON) from `fengqiao admin enroll`, or a file holding it.
        #[arg(long, value_name = "JSON|FILE", conflicts_with_all = ["server", "token"])]
        setup: Option<String>,
        /// The server's URL, e.g. https://sync.example.org.
        #[arg(long, value_name = "URL", requires = "token")]
        server: Option<String>,
        /// The device's token (with --server).
        #[arg(long, value_name = "TOKEN", requires = "server")]
        token: Option<String>,
        /// The person written into records as their author (default: the
        /// person the device was enrolled for).
        #[arg(long, value_name = "PERSON-ID")]
        cadre: Option<String>,
        /// The village new records belong to when --village is not given
        /// (default: the device's scope, when it is one village).
        #[arg(long, value_name = "CODE")]
        village: Option<VillageCode>,
        /// Replace a phone already set up in --dir, losing its unsynced changes.
        #[arg(long)]
        force: bool,
    },
    /// Disputes under mediation (矛盾纠纷): record, edit, add to the timeline, list, show.
    #[command(subcommand, after_help = DISPUTE_EXAMPLES)]
    Dispute(DisputeCommand),
    /// Household visits (民情走访): record, edit, list, show.
    #[command(subcommand, after_help = VISIT_EXAMPLES)]
    Visit(VisitCommand),
    /// Send this phone's changes and receive everyone else's.
    ///
    /// Prints a line per round, then what happened: changes the server
    /// confirmed, records received, records where this phone's and other
    /// phones' edits were merged, refusals (with the reason) and records
    /// removed because this device may no longer hold them. Without a
    /// connection nothing is lost: run it again when there is signal.
    ///
    /// A server that takes the connection but says nothing is given up on
    /// after --timeout seconds of silence, tried --tries times with a
    /// growing pause between, and the wait is shown while it lasts.
    ///
    /// Example: fengqiao field sync
    Sync {
        /// Seconds to wait for a connection, and for the server to say
        /// anything, before trying again (weak links: keep it generous).
        #[arg(long, env = "FENGQIAO_SYNC_TIMEOUT", default_value_t = 30.0)]
        timeout: f64,
        /// How many times each request is tried before giving up.
        #[arg(long, env = "FENGQIAO_SYNC_TRIES", default_value_t = 3)]
        tries: u32,
    },
    /// What is on this phone: unsynced records, records needing attention,
    /// the last sync, the server and the device.
    ///
    /// Example: fengqiao field status
    Status,
    /// Give up this phone's unsynced changes to one record.
    ///
    /// For a record the server refused (see `fengqiao field status`):
    /// re-enter its data as a new record, then discard the refused copy;
    /// the next sync fetches the server's version, if it has one.
    ///
    /// Example: fengqiao field discard 2iaw --yes
    Discard {
        /// The record's id, or the first characters of it.
        id: String,
        /// Confirm that the changes are to be thrown away.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
pub enum DisputeCommand {
    /// Record a new dispute; prints its id
    ///
    /// Example:
    ///
    ///   fengqiao field dispute new --village 500110101001 --title 宅基地边界纠纷 --category land --risk medium --party 张三:applicant --party 李四:respondent:13800000000
    #[command(verbatim_doc_comment)]
    New(NewDisputeArgs),
    /// Change a dispute's details: title, description, category, risk,
    /// parties, assignees.
    ///
    /// Example: fengqiao field dispute edit 2iaw --risk high --add-party 王五:other --assign li-si
    Edit(EditDisputeArgs),
    /// Add an event to a dispute's timeline (台账); the status follows from it
    ///
    /// Kinds: mediation, agreement, resolved, failed, escalated (with
    /// --level), reopened, followup (with --satisfied), note.
    ///
    /// Examples:
    ///
    ///   fengqiao field dispute event 2iaw mediation --note "双方到村委会调解"
    ///
    ///   fengqiao field dispute event 2iaw escalated --level town --note 需镇综治中心协调
    ///
    ///   fengqiao field dispute event 2iaw followup --satisfied true
    #[command(verbatim_doc_comment)]
    Event(EventArgs),
    /// List the disputes on this phone, latest activity first.
    ///
    /// Example: fengqiao field dispute list --status open --text 张三
    List(ListDisputeArgs),
    /// Show one dispute: details, parties, the timeline, and its sync state.
    ///
    /// Where phones edited the case concurrently, this is the merged
    /// result: the highest risk, every event of every phone.
    ///
    /// Example: fengqiao field dispute show 2iaw
    Show {
        /// The dispute's id, or the first characters of it.
        id: String,
    },
}

#[derive(Args)]
pub struct NewDisputeArgs {
    /// The village's 12-digit code (default: the phone's village).
    #[arg(long, value_name = "CODE")]
    pub village: Option<VillageCode>,
    /// A short title, e.g. 宅基地边界纠纷.
    #[arg(long)]
    pub title: String,
    /// What the dispute is about.
    #[arg(long, default_value = "")]
    pub description: String,
    /// land, neighbor, family, debt, labor, contract, damage, environment or other.
    #[arg(long, default_value = "other", value_parser = parse_word::<Category>)]
    pub category: Category,
    /// low, medium or high.
    #[arg(long, default_value = "low", value_parser = parse_word::<Risk>)]
    pub risk: Risk,
    /// A party as NAME:ROLE[:PHONE], ROLE being applicant, respondent or other; repeatable.
    #[arg(long = "party", value_name = "NAME:ROLE", value_parser = parse_party)]
    pub parties: Vec<Party>,
    /// A cadre to assign to the case; repeatable.
    #[arg(long = "assign", value_name = "CADRE")]
    pub assignees: Vec<String>,
    /// When it was reported: YYYY-MM-DD or "YYYY-MM-DD HH:MM", China Standard Time (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Millis>,
}

#[derive(Args)]
pub struct EditDisputeArgs {
    /// The dispute's id, or the first characters of it.
    pub id: String,
    /// A new title.
    #[arg(long)]
    pub title: Option<String>,
    /// A new description; edits from other phones to other parts of it are kept.
    #[arg(long)]
    pub description: Option<String>,
    /// land, neighbor, family, debt, labor, contract, damage, environment or other.
    #[arg(long, value_parser = parse_word::<Category>)]
    pub category: Option<Category>,
    /// low, medium or high.
    #[arg(long, value_parser = parse_word::<Risk>)]
    pub risk: Option<Risk>,
    /// Add a party as NAME:ROLE[:PHONE]; repeatable.
    #[arg(long = "add-party", value_name = "NAME:ROLE", value_parser = parse_party)]
    pub add_parties: Vec<Party>,
    /// Remove the party with this number, as `show` numbers them; repeatable.
    #[arg(long = "remove-party", value_name = "NUMBER")]
    pub remove_parties: Vec<usize>,
    /// Assign a cadre; repeatable.
    #[arg(long = "assign", value_name = "CADRE")]
    pub assign: Vec<String>,
    /// Take a cadre off the case; repeatable.
    #[arg(long = "unassign", value_name = "CADRE")]
    pub unassign: Vec<String>,
    /// When the edit is made (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Millis>,
}

#[derive(Args)]
pub struct EventArgs {
    /// The dispute's id, or the first characters of it.
    pub id: String,
    /// mediation, agreement, resolved, failed, escalated, reopened, followup or note.
    #[arg(value_parser = parse_word::<EventKind>)]
    pub kind: EventKind,
    /// For an escalation: village, town, district or court.
    #[arg(long, value_parser = parse_word::<Level>)]
    pub level: Option<Level>,
    /// A note for the timeline.
    #[arg(long)]
    pub note: Option<String>,
    /// What came of it, e.g. the terms agreed.
    #[arg(long)]
    pub outcome: Option<String>,
    /// For a follow-up: whether the parties were satisfied (true or false).
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub satisfied: Option<bool>,
    /// When it happened (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Millis>,
}

#[derive(Args)]
pub struct ListDisputeArgs {
    /// Only disputes with this status: open, mediating, resolved, failed or escalated.
    #[arg(long, value_parser = parse_word::<Status>)]
    pub status: Option<Status>,
    /// Only disputes whose title or a party's name contains this text.
    #[arg(long)]
    pub text: Option<String>,
    /// Only disputes with changes not yet on the server.
    #[arg(long)]
    pub unsynced: bool,
}

#[derive(Subcommand)]
pub enum VisitCommand {
    /// Record a household visit; prints its id
    ///
    /// Example:
    ///
    ///   fengqiao field visit new --village 500110101001 --household 王家 --group 3组 --topic livelihood --topic health --sentiment concern --notes 老人看病难 --follow-up-due 2025-04-01
    #[command(verbatim_doc_comment)]
    New(NewVisitArgs),
    /// Change a visit: notes, sentiment, topics, follow-up.
    ///
    /// Example: fengqiao field visit edit 3Fq8 --sentiment urgent --follow-up-done
    Edit(EditVisitArgs),
    /// List the visits on this phone, latest first.
    ///
    /// Example: fengqiao field visit list --follow-up
    List(ListVisitArgs),
    /// Show one visit.
    ///
    /// Example: fengqiao field visit show 3Fq8
    Show {
        /// The visit's id, or the first characters of it.
        id: String,
    },
}

#[derive(Args)]
pub struct NewVisitArgs {
    /// The village's 12-digit code (default: the phone's village).
    #[arg(long, value_name = "CODE")]
    pub village: Option<VillageCode>,
    /// The household visited: a name or a household number.
    #[arg(long)]
    pub household: String,
    /// The villagers' group (村民小组).
    #[arg(long)]
    pub group: Option<String>,
    /// livelihood, infrastructure, land, health, education, employment, policy, complaint, safety or other; repeatable.
    #[arg(long = "topic", value_name = "TOPIC", value_parser = parse_word::<Topic>)]
    pub topics: Vec<Topic>,
    /// positive, neutral, concern or urgent.
    #[arg(long, default_value = "neutral", value_parser = parse_word::<Sentiment>)]
    pub sentiment: Sentiment,
    /// What was said and seen.
    #[arg(long, default_value = "")]
    pub notes: String,
    /// The visit needs a follow-up.
    #[arg(long)]
    pub follow_up: bool,
    /// The visit needs a follow-up by this date.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    pub follow_up_due: Option<Millis>,
    /// The dispute this visit gave rise to (its id or the first characters of it).
    #[arg(long, value_name = "ID")]
    pub dispute: Option<String>,
    /// When the visit took place (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Millis>,
}

#[derive(Args)]
pub struct EditVisitArgs {
    /// The visit's id, or the first characters of it.
    pub id: String,
    /// New notes; edits from other phones to other parts of them are kept.
    #[arg(long)]
    pub notes: Option<String>,
    /// positive, neutral, concern or urgent.
    #[arg(long, value_parser = parse_word::<Sentiment>)]
    pub sentiment: Option<Sentiment>,
    /// The visit's topics, replacing the current ones; repeatable.
    #[arg(long = "topic", value_name = "TOPIC", value_parser = parse_word::<Topic>)]
    pub topics: Vec<Topic>,
    /// Schedule a follow-up.
    #[arg(long)]
    pub follow_up: bool,
    /// Schedule a follow-up by this date.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    pub follow_up_due: Option<Millis>,
    /// The follow-up was done.
    #[arg(long, conflicts_with_all = ["follow_up", "follow_up_due"])]
    pub follow_up_done: bool,
    /// When the edit is made (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Millis>,
}

#[derive(Args)]
pub struct ListVisitArgs {
    /// Only visits whose household contains this text.
    #[arg(long)]
    pub text: Option<String>,
    /// Only visits with a follow-up still owed.
    #[arg(long)]
    pub follow_up: bool,
    /// Only visits with changes not yet on the server.
    #[arg(long)]
    pub unsynced: bool,
}

pub fn run(args: FieldArgs) -> Result<(), CliError> {
    let dir = args.dir;
    let lang = args.lang;
    match args.command {
        FieldCommand::Init {
            setup,
            server,
            token,
            cadre,
            village,
            force,
        } => phone::init(
            &dir,
            phone::Init {
                server,
                token,
                setup,
                cadre,
                village,
                force,
            },
        ),
        FieldCommand::Dispute(command) => {
            let phone = Phone::open(&dir)?.speaking(lang);
            match command {
                DisputeCommand::New(args) => records::new_dispute(&phone, args),
                DisputeCommand::Edit(args) => records::edit_dispute(&phone, args),
                DisputeCommand::Event(args) => records::add_event(&phone, args),
                DisputeCommand::List(args) => records::list_disputes(&phone, args),
                DisputeCommand::Show { id } => records::show_dispute(&phone, &id),
            }
        }
        FieldCommand::Visit(command) => {
            let phone = Phone::open(&dir)?.speaking(lang);
            match command {
                VisitCommand::New(args) => records::new_visit(&phone, args),
                VisitCommand::Edit(args) => records::edit_visit(&phone, args),
                VisitCommand::List(args) => records::list_visits(&phone, args),
                VisitCommand::Show { id } => records::show_visit(&phone, &id),
            }
        }
        FieldCommand::Sync { timeout, tries } => {
            let mut phone = Phone::open(&dir)?.speaking(lang);
            sync::sync(&mut phone, sync::patience(timeout, tries)?)
        }
        FieldCommand::Status => sync::status(&Phone::open(&dir)?.speaking(lang)),
        FieldCommand::Discard { id, yes } => sync::discard(&Phone::open(&dir)?, &id, yes),
    }
}
