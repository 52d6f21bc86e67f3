//! The demo district: towns and villages with realistic names and valid
//! division codes, and the people who work there.
//!
//! The district is 诸暨市 (330681), home of the 枫桥经验 of settling
//! disputes at the grassroots. Town and village codes follow the
//! statistical code structure; the villages are illustrative.

use fengqiao_protocol::{TownCode, VillageCode};

use crate::directory::Org;

pub const DISTRICT: (&str, &str) = ("330681", "诸暨市");

/// A town of the demo and its villages.
pub struct Town {
    pub code: TownCode,
    pub name: &'static str,
    pub villages: Vec<(VillageCode, String)>,
}

const TOWNS: [(&str, &str, &[&str]); 6] = [
    (
        "330681107",
        "枫桥镇",
        &[
            "枫源村",
            "杜家村",
            "新枫村",
            "枫溪村",
            "全堂村",
            "大竹园村",
            "乐山村",
            "栎桥村",
            "丹桂村",
            "钟瑛村",
            "泉畈村",
            "骆家桥村",
        ],
    ),
    (
        "330681108",
        "赵家镇",
        &[
            "赵家村",
            "新绛霞村",
            "上京村",
            "花明泉村",
            "宣家山村",
            "钟家岭村",
            "东溪村",
            "榧王村",
            "丁家坞村",
            "西岩村",
            "新联村",
            "上宣村",
        ],
    ),
    (
        "330681109",
        "东白湖镇",
        &[
            "斯宅村",
            "上林村",
            "陈蔡村",
            "东白村",
            "千柱屋村",
            "大溪村",
            "王家宅村",
            "白门村",
            "里宣村",
            "吴子里村",
            "栖凤村",
            "下新宅村",
        ],
    ),
    (
        "330681102",
        "店口镇",
        &[
            "店口村",
            "湄池村",
            "侠父村",
            "三房村",
            "阮市村",
            "友谊村",
            "江西湖村",
            "大院村",
            "金鸡山村",
            "白塔湖村",
            "新江村",
            "南庄村",
        ],
    ),
    (
        "330681104",
        "次坞镇",
        &[
            "次坞村",
            "溪埭村",
            "大桥头村",
            "杨梅桥村",
            "下河村",
            "五联村",
            "红旗村",
            "打鼓岭村",
            "俞村",
            "吴高坞村",
            "里浦村",
            "新溪村",
        ],
    ),
    (
        "330681111",
        "同山镇",
        &[
            "同山村",
            "唐仁村",
            "边村",
            "高城头村",
            "汤家店村",
            "绿剑村",
            "大爽村",
            "青山村",
            "平阔村",
            "后亭村",
            "楼家村",
            "秋爽村",
        ],
    ),
];

/// The towns of a demo scale: 3 towns × 10 villages for `small`, 6 towns ×
/// 12 villages for `district`.
pub fn towns(district_scale: bool) -> Vec<Town> {
    let (towns, villages) = if district_scale { (6, 12) } else { (3, 10) };
    TOWNS
        .iter()
        .take(towns)
        .filter_map(|(code, name, names)| {
            let code = TownCode::new(code).ok()?;
            let villages = names
                .iter()
                .take(villages)
                .enumerate()
                .filter_map(|(i, village)| {
                    let code = VillageCode::new(&format!("{code}{:03}", 201 + i)).ok()?;
                    Some((code, (*village).to_owned()))
                })
                .collect();
            Some(Town {
                code,
                name,
                villages,
            })
        })
        .collect()
}

/// The organisation for an import.
pub fn org(towns: &[Town]) -> Org {
    let mut org = Org::default();
    let _ = org.insert(DISTRICT.0, DISTRICT.1);
    for town in towns {
        let _ = org.insert(town.code.as_str(), town.name);
        for (code, name) in &town.villages {
            let _ = org.insert(code.as_str(), name);
        }
    }
    org
}

const SURNAMES: [&str; 20] = [
    "张", "王", "李", "赵", "陈", "刘", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "楼",
];
const GIVEN: [&str; 16] = [
    "建国", "秀英", "志强", "丽华", "海峰", "桂兰", "伟", "芳", "军", "敏", "晓东", "春燕", "国平",
    "小红", "立新", "德明",
];

/// A plausible Chinese name for the `n`th person.
pub fn person_name(n: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[n % SURNAMES.len()],
        GIVEN[(n / SURNAMES.len() + n * 7) % GIVEN.len()]
    )
}
