//! What `fengqiao field` says, in Chinese and English: one catalogue.
//!
//! Each message has both texts with the same `{placeholders}`; the command
//! picks the phone's language ([`Lang`], `--lang`, Chinese by default) and
//! fills them in with [`Lang::say`]. Vocabulary words (statuses, stages,
//! categories …) come from the shared schema's labels through
//! [`Lang::word`], and people and places are named from the server's
//! directory, so a Chinese line carries no English beyond codes, ids,
//! addresses and the commands it tells the cadre to run.

use super::lang::Lang;

/// One message in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    pub zh: &'static str,
    pub en: &'static str,
}

macro_rules! catalogue {
    ($($(#[$doc:meta])* $name:ident: $zh:literal, $en:literal;)*) => {
        $($(#[$doc])* pub const $name: Msg = Msg { zh: $zh, en: $en };)*
        /// Every message, by name (for the catalogue's own checks).
        #[cfg(test)]
        pub const ALL: &[(&str, Msg)] = &[$((stringify!($name), $name)),*];
    };
}

catalogue! {
    // --- counts
    RECORDS: "{n} 条记录", "{n} records";
    RECORD_1: "{n} 条记录", "{n} record";
    ROUNDS: "{n} 轮", "{n} rounds";
    ROUND_1: "{n} 轮", "{n} round";

    // --- sync
    SYNCING: "正在与 {server} 同步（待发送 {records}）", "syncing with {server} ({records} to send)";
    ROUND: "  第 {round} 轮：发送 {sent}，接收 {received}；上行 {up}，下行 {down}{progress}",
        "  round {round}: sent {sent}, received {received}; {up} up, {down} down{progress}";
    SYNCED: "已与 {server} 同步，共 {rounds}：上行 {up}，下行 {down}",
        "synced with {server} in {rounds}: {up} up, {down} down";
    ACKNOWLEDGED: "  已确认        {n}  （服务器已收到本机的修改）",
        "  acknowledged  {n}  (the server holds this phone's changes)";
    RECEIVED: "  已接收        {n}  （其他手机修改过的记录）",
        "  received      {n}  (records with changes from other phones)";
    MERGED: "  已合并        {n}  （本机和其他手机都改过，两边的修改都保留）",
        "  merged        {n}  (edited here and elsewhere; both kept)";
    CHANGED: "  他人修改了本机办理的案件  {n}",
        "  changed elsewhere (cases this phone works on)  {n}";
    REJECTED: "  被拒收        {n}", "  rejected      {n}";
    PURGED: "  已移除        {n}  （本设备已无权保存）",
        "  purged        {n}  (no longer this device's to hold)";
    REFUSED_HINT: "\n服务器拒收了 {records}；它们留在本机，不会再次发送。请把内容重新录成新记录，\
        然后运行 `fengqiao field discard ID --yes`；`fengqiao field status` 会列出它们。",
        "\nthe server refused {records}; they stay on this phone and are not sent again. \
        Re-enter their data as new records, then `fengqiao field discard ID --yes`; \
        `fengqiao field status` lists them.";
    STILL_TO_SEND: "\n还有 {records} 待发送；请再次运行 `fengqiao field sync`",
        "\n{records} still to send; run `fengqiao field sync` again";
    REFUSAL: "{record}：{message}（{code}）", "{record}: {message} ({code})";

    WAITING: "  等待服务器回应：{seconds} 秒（第 {tried} 次，共 {tries} 次）",
        "  waiting for the server: {seconds} s (try {tried} of {tries})";
    RETRYING: "  第 {tried} 次没有成功（共 {tries} 次；{error}），{seconds} 秒后重试",
        "  try {tried} of {tries} failed ({error}); trying again in {seconds} s";

    // --- a sync that failed
    SAFE: "本机的修改都已保存；有信号时再运行 `fengqiao field sync`",
        "your changes are safe on this phone; run `fengqiao field sync` again when there is signal";
    SAFE_MEANWHILE: "本机的修改都已保存", "your changes are safe on this phone meanwhile";
    E_NETWORK: "连不上服务器 {server}：{error}\n{safe}", "cannot reach the server at {server}: {error}\n{safe}";
    E_UNANSWERED: "服务器没有回应：{server} 接受了连接，但 {seconds} 秒内试了 {tries} 次都没有回答；\
        服务器可能停机或过载，也可能信号太弱\n{safe}",
        "the server at {server} took the connection but did not answer ({tries} tries over \
        {seconds} s): it may be down or overloaded, or the signal too weak\n{safe}";
    E_TOKEN: "服务器 {server} 不再接受本机的令牌（{message}）：设备可能已被注销，或令牌已更换。\
        请向管理员要新令牌，写进 {settings}（`token = \"…\"`）；{safe}",
        "the server at {server} no longer accepts this phone's token ({message}): the device may \
        have been revoked, or its token rotated. Ask an administrator for a new token and put it \
        into {settings} (token = \"…\"); {safe}";
    E_FORBIDDEN: "服务器 {server} 拒绝了本机的同步（{message}）；请管理员检查设备的角色和范围；{safe}",
        "the server at {server} refused this phone's sync ({message}); ask an administrator to \
        check the device's role and scope; {safe}";
    E_STATUS: "服务器 {server} 回答 {status} {code}：{message}；{next}\n{safe}",
        "the server at {server} answered {status} {code}: {message}; {next}\n{safe}";
    E_BUSY: "服务器忙或出了问题，请一分钟后再试", "the server is busy or unwell; try again in a minute";
    E_PERSISTS: "如果一直这样，请告诉服务器的管理员", "if it persists, tell the server's administrator";
    E_UNREADABLE: "读不懂 {server} 的回答（{error}）；它是丰桥服务器吗？（请检查 {settings} 里的 `server`）\n{safe}",
        "the answer from {server} could not be read ({error}); is it a Fengqiao server? \
        (check `server` in {settings})\n{safe}";
    E_TOO_MANY_ROUNDS: "同步进行了 {rounds} 轮还没有结束，已经停下；再次运行 `fengqiao field sync` 继续\n{safe}",
        "the sync was still going after {rounds} rounds, so it stopped; run `fengqiao field sync` \
        again to continue\n{safe}";

    // --- what other phones changed
    STATUS_NOW: "状态现为 {status}", "status is now {status}";
    STAGE_NOW: "阶段现为 {stage}", "stage is now {stage}";
    RISK_NOW: "风险现为 {risk}", "risk is now {risk}";
    HANDLERS_NOW: "承办人现为 {people}", "handled now by {people}";
    SUPERVISED_NOW: "督办期限 {date}", "under supervision until {date}";
    CHANGED_BY: "{what}，由 {who} 修改", "{what}, changed by {who}";
    CHANGED_ON_ANOTHER: "{what}（另一台手机修改）", "{what} (changed on another phone)";

    // --- status
    ST_PHONE: "手机目录", "phone";
    ST_DEVICE: "设备", "device";
    ST_CADRE: "人员", "cadre";
    ST_ACCESS: "权限", "access";
    ST_ACCESS_IS: "{role}，范围 {scope}", "{role} over {scope}";
    ST_DEVELOPMENT: "开发用令牌（可见全部记录；切勿在实际工作中使用）",
        "development token (every record; never use it in the field)";
    ST_SERVER: "服务器", "server";
    ST_LAST_SYNC: "上次同步", "last sync";
    ST_NEVER: "从未同步；`fengqiao field sync` 会取回本设备的记录",
        "never; `fengqiao field sync` fetches this device's records";
    ST_RECORDS: "记录", "records";
    ST_HELD: "共 {n} 条：纠纷 {disputes} 件，走访 {visits} 次", "{n} held: {disputes}, {visits}";
    ST_UNSYNCED: "未同步", "unsynced";
    ST_NOTHING_UNSYNCED: "无（没有要同步的）", "none (nothing to sync)";
    ST_UNSYNCED_SOME: "{records}；`fengqiao field sync` 会发送", "{records}; `fengqiao field sync` sends them";
    ST_DISCARDED: "（本机已放弃修改；下次同步取回服务器上的版本）",
        "(discarded here; the server's copy comes with the next sync)";
    ST_ATTENTION: "需处理", "attention";
    NONE: "无", "none";
    ST_ATTENTION_SOME: "服务器拒收了 {records}；请把内容重新录成新记录，然后运行 `fengqiao field discard ID --yes`",
        "{records} the server refused; re-enter the data as a new record, then `fengqiao field discard ID --yes`";

    // --- show
    SH_ID: "编号", "id";
    SH_VILLAGE: "村", "village";
    SH_STATUS: "状态", "status";
    SH_STAGE: "阶段", "stage";
    SH_SUPERVISED: "督办期限", "supervised";
    SH_SUPERVISED_IS: "{time}", "due {time}";
    SH_CATEGORY: "类别", "category";
    SH_RISK: "风险", "risk";
    SH_REPORTED: "上报", "reported";
    SH_BY: "{time}，{who}", "{time} by {who}";
    SH_PARTIES: "当事人", "parties";
    SH_ASSIGNEES: "承办人", "assignees";
    SH_DUPLICATE: "重复于", "duplicate";
    SH_DUPLICATE_OF: "{id}", "of {id}";
    SH_DESCRIPTION: "案情", "description";
    SH_TIMELINE: "  办理经过（{n}）", "  timeline ({n})";
    SH_SYNC: "同步", "sync";
    SH_ON_SERVER: "已在服务器上", "on the server";
    SH_UNSYNCED: "本机有未同步的修改；`fengqiao field sync` 会发送",
        "unsynced changes on this phone; `fengqiao field sync` sends them";
    SH_ATTENTION: "需处理：服务器拒收了本机的修改（{code}：{message}）；请重新录成新记录，\
        然后运行 `fengqiao field discard {id} --yes`",
        "NEEDS ATTENTION: the server refused this phone's changes ({code}: {message}); \
        re-enter them as a new record, then `fengqiao field discard {id} --yes`";
    NOTHING: "（无）", "(none)";
    DISAGREED_LATEST: "（多台手机意见不一：{values}；以最新的为准）",
        "  (phones disagreed: {values}; the latest counts)";
    DISAGREED_HIGHEST: "（多台手机意见不一：{values}；以最高的为准）",
        "  (phones disagreed: {values}; the highest counts)";
    DISAGREED_SEVEREST: "（多台手机意见不一：{values}；以最严重的为准）",
        "  (phones disagreed: {values}; the most severe counts)";
    EV_BY: "{who}", "by {who}";
    EV_OUTCOME: "结果：{text}", "outcome: {text}";
    EV_NOTE: "备注：{text}", "note: {text}";
    EV_SATISFIED: "当事人满意", "parties satisfied";
    EV_NOT_SATISFIED: "当事人不满意", "parties NOT satisfied";
    EV_HANDLER: "承办人：{who}", "handler: {who}";
    EV_DUE: "期限：{time}", "due: {time}";
    VISIT_TO: "走访 {household}", "visit to {household}";
    SH_GROUP: "村民小组", "group";
    SH_VISITED: "走访时间", "visited";
    SH_SENTIMENT: "民情", "sentiment";
    SH_TOPICS: "话题", "topics";
    SH_FOLLOW_UP: "回访", "follow-up";
    FU_DONE: "已回访", "done";
    FU_OWED_BY: "需在 {date} 前回访", "owed, due {date}";
    FU_OWED: "待回访", "owed";
    FU_NOT_NEEDED: "无需回访", "not needed";
    SH_DISPUTE: "关联纠纷", "dispute";
    SH_NOTES: "走访记录", "notes";
}

impl Lang {
    /// `msg` in this language, its `{name}` placeholders filled from `args`.
    pub fn say(self, msg: Msg, args: &[(&str, &str)]) -> String {
        let mut text = self.pick(msg.zh, msg.en).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// `msg` without placeholders.
    pub fn text(self, msg: Msg) -> &'static str {
        self.pick(msg.zh, msg.en)
    }

    /// `n` records: `3 条记录`, `1 record`.
    pub fn records(self, n: usize) -> String {
        let msg = if n == 1 { RECORD_1 } else { RECORDS };
        self.say(msg, &[("n", &n.to_string())])
    }

    /// `n` sync rounds.
    pub fn rounds(self, n: usize) -> String {
        let msg = if n == 1 { ROUND_1 } else { ROUNDS };
        self.say(msg, &[("n", &n.to_string())])
    }

    /// A labelled line of `status` and `show`: the label padded to twelve
    /// columns after two spaces.
    pub fn row(self, label: Msg, value: &str) -> String {
        let label = self.text(label);
        let pad = 12usize.saturating_sub(super::words::width(label)).max(1);
        format!("  {label}{}{value}", " ".repeat(pad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        let mut out: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        out.sort_unstable();
        out
    }

    /// A Chinese message with its commands (in backquotes) and
    /// placeholders taken out has no latin word left.
    pub fn english_words(text: &str) -> Vec<String> {
        let mut plain = String::new();
        let mut quoted = false;
        let mut placeholder = false;
        for c in text.chars() {
            match c {
                '`' => quoted = !quoted,
                '{' => placeholder = true,
                '}' => placeholder = false,
                _ if quoted || placeholder => {}
                c => plain.push(c),
            }
        }
        plain
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() > 1)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_message_has_both_languages_with_the_same_placeholders() {
        for (name, msg) in ALL {
            assert!(!msg.zh.trim().is_empty(), "{name}: no Chinese");
            assert_eq!(
                placeholders(msg.zh),
                placeholders(msg.en),
                "{name}: placeholders differ"
            );
            assert!(
                !msg.en
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}: Chinese in the English text"
            );
            assert!(!msg.en.trim().is_empty(), "{name}: no English");
            assert!(
                english_words(msg.zh).is_empty(),
                "{name}: English in the Chinese text: {:?}",
                english_words(msg.zh)
            );
        }
    }

    #[test]
    fn messages_are_filled_in_and_rows_line_up() {
        assert_eq!(
            Lang::Zh.say(
                CHANGED_BY,
                &[
                    (
                        "what",
                        &Lang::Zh.say(STATUS_NOW, &[("status", "已上报（镇级）")])
                    ),
                    ("who", "李梅")
                ]
            ),
            "状态现为 已上报（镇级），由 李梅 修改"
        );
        assert_eq!(Lang::En.records(1), "1 record");
        assert_eq!(Lang::Zh.records(2), "2 条记录");
        assert_eq!(Lang::En.row(SH_STATUS, "open"), "  status      open");
        assert_eq!(Lang::Zh.row(SH_STATUS, "待调解"), "  状态        待调解");
    }
}
