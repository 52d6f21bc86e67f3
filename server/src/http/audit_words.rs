//! The audit trail in the official's language: every change message the
//! record edits write (shared/src/record and its JavaScript mirror, in
//! English, e.g. `event 'escalated' (town) added`) read back as a
//! sentence in Chinese or English, with vocabulary words as their labels
//! and people by name, never by id.

use fengqiao_shared::vocab::{Category, EventKind, Level, PartyRole, Risk, Sentiment, Topic};

use super::people::Names;

/// The language of a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// Someone the directory does not know, in each language.
fn unknown_person(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "未登记人员",
        Lang::En => "an unregistered person",
    }
}

fn person(names: &Names, id: &str, lang: Lang) -> String {
    names
        .person(id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| unknown_person(lang).to_owned())
}

macro_rules! label {
    ($vocab:ty, $text:expr, $lang:expr) => {
        <$vocab>::parse($text).map(|v| match $lang {
            Lang::Zh => v.label_zh(),
            Lang::En => v.label_en(),
        })
    };
}

/// `risk medium → high` or `risk set to high`, labelled.
fn change(field: &str, rest: &str, lang: Lang) -> Option<String> {
    let word = |text: &str| -> Option<&'static str> {
        match field {
            "risk" => label!(Risk, text, lang),
            "category" => label!(Category, text, lang),
            "sentiment" => label!(Sentiment, text, lang),
            _ => None,
        }
    };
    let name = match (field, lang) {
        ("risk", Lang::Zh) => "风险等级",
        ("risk", Lang::En) => "Risk",
        ("category", Lang::Zh) => "纠纷类别",
        ("category", Lang::En) => "Category",
        ("sentiment", Lang::Zh) => "群众情绪",
        ("sentiment", Lang::En) => "Sentiment",
        _ => return None,
    };
    if let Some(after) = rest.strip_prefix("set to ") {
        return Some(match lang {
            Lang::Zh => format!("{name}设为{}", word(after)?),
            Lang::En => format!("{name} set to {}", word(after)?),
        });
    }
    let (before, after) = rest.split_once(" → ")?;
    let colon = if lang == Lang::Zh { "：" } else { ": " };
    Some(format!("{name}{colon}{} → {}", word(before)?, word(after)?))
}

/// An event kind with its detail: `'escalated' (town)` etc.
fn event(inner: &str, names: &Names, lang: Lang) -> Option<String> {
    let inner = inner.strip_prefix('\'')?;
    let (kind, rest) = inner.split_once('\'')?;
    let kind = EventKind::parse(kind)?;
    let kind_label = match lang {
        Lang::Zh => kind.label_zh(),
        Lang::En => kind.label_en(),
    };
    let detail = rest.trim();
    let detail = if detail.is_empty() {
        None
    } else {
        let inside = detail.strip_prefix('(')?.strip_suffix(')')?;
        Some(match kind {
            EventKind::Escalated => label!(Level, inside, lang)?.to_owned(),
            EventKind::Assigned => person(names, inside, lang),
            _ => return None,
        })
    };
    Some(match (lang, kind, detail) {
        (Lang::Zh, EventKind::Assigned, Some(who)) => format!("分派承办人：{who}"),
        (Lang::En, EventKind::Assigned, Some(who)) => format!("Assigned to {who}"),
        (Lang::Zh, _, Some(detail)) => format!("记录事件：{kind_label}（{detail}）"),
        (Lang::En, _, Some(detail)) => format!("Event added: {kind_label} ({detail})"),
        (Lang::Zh, _, None) => format!("记录事件：{kind_label}"),
        (Lang::En, _, None) => format!("Event added: {kind_label}"),
    })
}

/// The topics change `topics +livelihood −health`, labelled.
fn topics(rest: &str, lang: Lang) -> Option<String> {
    let mut parts = Vec::new();
    for part in rest.split(' ') {
        let (sign, topic) = if let Some(t) = part.strip_prefix('+') {
            ('+', t)
        } else if let Some(t) = part.strip_prefix('−') {
            ('−', t)
        } else {
            return None;
        };
        parts.push(format!("{sign}{}", label!(Topic, topic, lang)?));
    }
    Some(match lang {
        Lang::Zh => format!("走访主题：{}", parts.join(" ")),
        Lang::En => format!("Topics: {}", parts.join(" ")),
    })
}

/// The sentence for a change message, or `None` when the message is not
/// one the record edits write.
pub fn describe(message: &str, names: &Names, lang: Lang) -> Option<String> {
    let zh = lang == Lang::Zh;
    let pick = |zh_text: &str, en_text: &str| Some(if zh { zh_text } else { en_text }.to_owned());
    match message {
        "title edited" => return pick("修改标题", "Title edited"),
        "description edited" => return pick("修改案情", "Description edited"),
        "notes edited" => return pick("修改走访记录", "Notes edited"),
        "duplicate mark cleared" => return pick("取消重复案件标记", "Duplicate mark cleared"),
        "follow-up scheduled" => return pick("安排回访", "Follow-up scheduled"),
        "follow-up done" => return pick("回访完成", "Follow-up done"),
        "link to dispute removed" => return pick("取消关联纠纷", "Link to the dispute removed"),
        _ => {}
    }
    if let Some(title) = message.strip_prefix("dispute reported: ") {
        return Some(if zh {
            format!("登记纠纷：{title}")
        } else {
            format!("Dispute reported: {title}")
        });
    }
    if let Some(household) = message.strip_prefix("visit recorded: ") {
        return Some(if zh {
            format!("记录走访：{household}")
        } else {
            format!("Visit recorded: {household}")
        });
    }
    if let Some(inner) = message
        .strip_prefix("event ")
        .and_then(|m| m.strip_suffix(" added"))
    {
        return event(inner, names, lang);
    }
    for field in ["risk", "category", "sentiment"] {
        if let Some(rest) = message
            .strip_prefix(field)
            .and_then(|m| m.strip_prefix(' '))
        {
            return change(field, rest, lang);
        }
    }
    if let Some(rest) = message.strip_prefix("topics ") {
        return topics(rest, lang);
    }
    if let Some(inner) = message
        .strip_prefix("party ")
        .and_then(|m| m.strip_suffix(" added"))
    {
        let (name, role) = inner.rsplit_once(" (")?;
        let role = label!(PartyRole, role.strip_suffix(')')?, lang)?;
        return Some(if zh {
            format!("添加当事人：{name}（{role}）")
        } else {
            format!("Party added: {name} ({role})")
        });
    }
    if let Some(name) = message
        .strip_prefix("party ")
        .and_then(|m| m.strip_suffix(" removed"))
    {
        return Some(if zh {
            format!("移除当事人：{name}")
        } else {
            format!("Party removed: {name}")
        });
    }
    if let Some(id) = message.strip_prefix("marked duplicate of ") {
        return Some(if zh {
            format!("标记为重复案件，原案件 {id}")
        } else {
            format!("Marked a duplicate of case {id}")
        });
    }
    if let Some(id) = message
        .strip_prefix("case ")
        .and_then(|m| m.strip_suffix(" marked not a duplicate"))
    {
        return Some(if zh {
            format!("确认与案件 {id} 不重复")
        } else {
            format!("Judged not a duplicate of case {id}")
        });
    }
    if let Some(id) = message
        .strip_prefix("related case ")
        .and_then(|m| m.strip_suffix(" linked"))
    {
        return Some(if zh {
            format!("关联案件 {id}")
        } else {
            format!("Related case {id} linked")
        });
    }
    if let Some(id) = message
        .strip_prefix("related case ")
        .and_then(|m| m.strip_suffix(" unlinked"))
    {
        return Some(if zh {
            format!("取消关联案件 {id}")
        } else {
            format!("Related case {id} unlinked")
        });
    }
    if let Some(id) = message.strip_prefix("linked to dispute ") {
        return Some(if zh {
            format!("关联纠纷 {id}")
        } else {
            format!("Linked to dispute {id}")
        });
    }
    if let Some(who) = message.strip_suffix(" unassigned") {
        let who = person(names, who, lang);
        return Some(if zh {
            format!("取消承办人：{who}")
        } else {
            format!("{who} taken off the case")
        });
    }
    if let Some(who) = message.strip_suffix(" assigned") {
        let who = person(names, who, lang);
        return Some(if zh {
            format!("指定承办人：{who}")
        } else {
            format!("{who} assigned")
        });
    }
    if let Some(count) = message.strip_suffix(" operations (no description)") {
        let count: usize = count.parse().ok()?;
        return Some(if zh {
            format!("{count} 项修改（无说明）")
        } else {
            format!("{count} operations (no description)")
        });
    }
    if let Some(reason) = message.strip_prefix("removed by an administrator: ") {
        return Some(if zh {
            format!("管理员删除了此记录：{reason}")
        } else {
            format!("Removed by an administrator: {reason}")
        });
    }
    None
}

/// The sentence for any message: a change this version does not know is
/// shown as such, never in the other language.
pub fn sentence(message: &str, names: &Names, lang: Lang) -> String {
    describe(message, names, lang).unwrap_or_else(|| {
        match lang {
            Lang::Zh => "其他修改（此版本无法识别其说明）",
            Lang::En => "Another change (its description is not one this version knows)",
        }
        .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::from_pairs([("cadre-li", "李梅")])
    }

    #[test]
    fn every_message_of_the_edits_reads_in_both_languages() {
        let names = names();
        let zh = |m: &str| describe(m, &names, Lang::Zh);
        let en = |m: &str| describe(m, &names, Lang::En);
        assert_eq!(
            zh("event 'escalated' (town) added").as_deref(),
            Some("记录事件：上报（镇级）")
        );
        assert_eq!(
            zh("event 'assigned' (cadre-li) added").as_deref(),
            Some("分派承办人：李梅")
        );
        assert_eq!(
            en("event 'assigned' (cadre-li) added").as_deref(),
            Some("Assigned to 李梅")
        );
        assert_eq!(
            zh("event 'supervised' added").as_deref(),
            Some("记录事件：督办")
        );
        assert_eq!(
            zh("risk medium → high").as_deref(),
            Some("风险等级：中 → 高")
        );
        assert_eq!(
            en("risk medium → high").as_deref(),
            Some("Risk: Medium → High")
        );
        assert_eq!(
            zh("category set to land").as_deref(),
            Some("纠纷类别设为土地/宅基地/山林")
        );
        assert_eq!(
            zh("party 张三 (applicant) added").as_deref(),
            Some("添加当事人：张三（申请人）")
        );
        assert_eq!(zh("cadre-li assigned").as_deref(), Some("指定承办人：李梅"));
        assert_eq!(
            zh("nobody-known unassigned").as_deref(),
            Some("取消承办人：未登记人员")
        );
        assert_eq!(
            zh("topics +livelihood −health").as_deref(),
            Some("走访主题：+民生 −医疗卫生")
        );
        assert_eq!(
            zh("dispute reported: 宅基地").as_deref(),
            Some("登记纠纷：宅基地")
        );
        assert_eq!(zh("event 'weird' added"), None);
        assert_eq!(
            sentence("something new", &names, Lang::Zh),
            "其他修改（此版本无法识别其说明）"
        );
        // No sentence of either language leaks the other's words.
        for message in [
            "title edited",
            "event 'accepted' added",
            "event 'returned' added",
            "event 'archived' added",
            "follow-up done",
            "duplicate mark cleared",
        ] {
            let chinese = zh(message).expect(message);
            assert!(
                !chinese.chars().any(|c| c.is_ascii_alphabetic()),
                "{chinese}"
            );
            let english = en(message).expect(message);
            assert!(english.is_ascii(), "{english}");
        }
    }
}
