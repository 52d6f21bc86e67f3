// Every string the app shows, in Chinese and English. Vocabulary labels
// (categories, risks, event kinds, …) come from the shared schema instead.

import schema from '@fengqiao/client/schema.json' with { type: 'json' };

const LANG_KEY = 'fengqiao-field-lang';

/** @type {'zh'|'en'} */
let lang = readLang();

function readLang() {
  try {
    return globalThis.localStorage?.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

export function getLang() {
  return lang;
}

/** @param {'zh'|'en'} next */
export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  try {
    globalThis.localStorage?.setItem(LANG_KEY, lang);
  } catch {
    // private mode: the switch still works until the app closes
  }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('appName');
}

/** key → [zh, en]; `{name}` placeholders are filled from `vars`. */
const T = {
  appName: ['枫桥·走访调解', 'Fengqiao · visits and mediation'],
  bootFailed: ['应用无法启动：{message}', 'The app could not start: {message}'],
  retry: ['重试', 'Try again'],

  // navigation
  navToday: ['今日', 'Today'],
  navRecords: ['记录', 'Records'],
  navNewDispute: ['+ 纠纷', '+Dispute'],
  navNewVisit: ['+ 走访', '+Visit'],
  navSettings: ['设置', 'Settings'],
  back: ['返回', 'Back'],

  // set-up
  setupTitle: ['设置这台手机', 'Set up this phone'],
  setupIntro: [
    '扫描管理员给的二维码即可完成设置；也可以把设置链接或设置文本粘贴到下面。',
    'Scan the QR code from your administrator, or paste the set-up link or text below.',
  ],
  setupPasteLabel: ['设置链接或文本', 'Set-up link or text'],
  setupPlaceholder: ['https://…/field#setup=…', 'https://…/field#setup=…'],
  setupSubmit: ['完成设置', 'Set up'],
  setupWorking: ['正在设置…', 'Setting up…'],
  setupEmpty: ['请先粘贴设置链接或文本。', 'Paste the set-up link or text first.'],
  setupErr_bad_setup: [
    '设置文本无法识别，请重新复制完整的链接或文本。',
    'The set-up text was not recognised; copy the whole link or text again.',
  ],
  setupErr_already_set_up: [
    '这台手机已经设置过。要换成别的账号，请先在“设置”里退出并清除。',
    'This phone is already set up. To use another account, sign out and erase in Settings first.',
  ],
  setupErr_unauthorized: [
    '服务器不认可这个设置链接：可能已过期或已被注销，请联系管理员重新生成。',
    'The server refused this set-up link: it may be expired or revoked. Ask your administrator for a new one.',
  ],
  setupErr_offline: ['设置需要联网，请连上网络后再试。', 'Setting up needs a connection; try again when online.'],
  setupErr_server_error: ['服务器出错，暂时无法设置，请稍后再试。', 'The server failed; try setting up again later.'],
  setupErr_not_a_device: [
    '这个设置码不属于任何手机（可能是管理员或开发用的码），请向管理员要手机设置链接。',
    'This code belongs to no phone (an admin or development token?); ask your administrator for a phone set-up link.',
  ],
  setupErr_other: ['设置失败：{message}', 'Set-up failed: {message}'],
  setupWaiting: [
    '已收到新的设置链接：导出并清除本机数据后，将用它重新设置这台手机。',
    'A new set-up link was received: once you have exported and erased, it sets this phone up again.',
  ],
  setupAlready: ['这台手机已设置，设置链接未使用。', 'This phone is already set up; the set-up link was not used.'],

  // sync bar
  online: ['在线', 'Online'],
  offline: ['离线', 'Offline'],
  syncing: ['正在同步…', 'Syncing…'],
  todayAt: ['今天 {time}', 'today {time}'],
  lastSync: ['上次同步 {time}', 'Synced {time}'],
  neverSynced: ['尚未同步', 'Not synced yet'],
  syncNow: ['立即同步', 'Sync now'],
  syncProgress: ['正在下载 {done} / {total}', 'Downloading {done} / {total}'],
  syncErr: ['同步出错：{reason}', 'Sync problem: {reason}'],

  // record sync states
  sync_unsent: ['未发送', 'Not yet sent'],
  sync_synced: ['已同步', 'On the server'],
  sync_attention: ['需处理', 'Needs attention'],
  updated: ['有更新', 'Updated'],

  // today
  todayTitle: ['今日工作', 'Today'],
  todayFollowUps: ['到期回访', 'Follow-ups due'],
  todayOverdue: ['超期未结案件', 'Overdue cases'],
  todayAssigned: ['分配给我的案件', 'Assigned to me'],
  todayAttention: ['需要处理的记录', 'Records that need attention'],
  todayNothing: ['没有', 'None'],
  hello: ['{name}，您好', 'Hello, {name}'],

  // records list
  recordsTitle: ['我的记录', 'My records'],
  search: ['搜索标题或当事人', 'Search title or party names'],
  anyKind: ['全部类型', 'Any type'],
  anyStatus: ['全部状态', 'Any status'],
  anyCategory: ['全部类别', 'Any category'],
  anyRisk: ['全部风险等级', 'Any risk'],
  kind: ['类型', 'Type'],
  status: ['状态', 'Status'],
  category: ['纠纷类别', 'Category'],
  risk: ['风险等级', 'Risk'],
  overdueOnly: ['只看超期', 'Overdue only'],
  followUpOnly: ['只看待回访', 'Needs follow-up'],
  clearFilters: ['清除筛选', 'Clear filters'],
  loadFailed: ['无法读取手机上的记录：{message}', 'The records on this phone could not be read: {message}'],
  noRecords: ['没有符合条件的记录。', 'No records match.'],
  noRecordsYet: ['还没有记录。可以新建纠纷或走访。', 'No records yet. Add a dispute or a visit.'],
  count: ['共 {n} 条', '{n} records'],
  count_one: ['共 {n} 条', '{n} record'],
  showMore: ['显示更多（还有 {n} 条）', 'Show more ({n} left)'],
  lastActivity: ['最近 {time}', 'Last activity {time}'],
  overdue: ['超期', 'Overdue'],
  riskChip: ['风险{risk}', 'Risk: {risk}'],
  followUpDue: ['回访 {date}', 'Follow-up {date}'],
  followUpPending: ['待回访', 'Follow-up pending'],
  untitled: ['（无标题）', '(untitled)'],

  // forms
  newDisputeTitle: ['登记矛盾纠纷', 'New dispute'],
  newVisitTitle: ['民情走访', 'New visit'],
  title: ['标题', 'Title'],
  titleHint: ['例如：张家与李家宅基地边界纠纷', 'e.g. Boundary dispute between the Zhang and Li families'],
  description: ['纠纷情况', 'Description'],
  village: ['村（社区）', 'Village'],
  placeWithCode: ['{name}（{code}）', '{name} ({code})'],
  chooseVillage: ['请选择村（社区）', 'Choose a village'],
  villageCode: ['村（社区）代码（12 位）', 'Village code (12 digits)'],
  choose: ['请选择', 'Choose'],
  parties: ['当事人', 'Parties'],
  partyName: ['姓名', 'Name'],
  partyRole: ['身份', 'Role'],
  partyPhone: ['电话（可不填）', 'Phone (optional)'],
  addParty: ['+ 添加当事人', '+ Add a party'],
  removeParty: ['删除', 'Remove'],
  partyN: ['当事人 {n}', 'Party {n}'],
  duplicatesTitle: ['是否为同一案件？', 'Is this the same case?'],
  duplicatesIntro: [
    '本村已有当事人姓名相同的纠纷。是同一件事的话，请打开原案件添加记录。',
    'This village already has disputes with the same party names. If it is the same matter, open it and add to it.',
  ],
  open: ['打开', 'Open'],
  save: ['保存', 'Save'],
  saving: ['正在保存…', 'Saving…'],
  cancel: ['取消', 'Cancel'],
  household: ['走访户（户主姓名或门牌）', 'Household (head of household or house number)'],
  group: ['村民小组', 'Villagers’ group'],
  topics: ['走访事项（可多选）', 'Topics (choose any)'],
  sentiment: ['群众情绪', 'Sentiment'],
  notes: ['走访记录', 'Notes'],
  followUpNeeded: ['需要回访', 'Follow-up needed'],
  followUpDueDate: ['回访日期', 'Follow-up due'],
  draftRestored: ['已恢复上次没有保存的内容。', 'What you had not saved was restored.'],
  draftDiscard: ['清空重填', 'Start over'],
  savedLocally: ['已保存在手机上，联网后自动发送。', 'Saved on this phone; it is sent when there is a connection.'],
  readOnly: ['这台手机只能查看，不能新建或修改记录。', 'This phone can view records but not add or change them.'],
  badVillage: ['请填写本辖区内 12 位村（社区）代码。', 'Enter a 12-digit village code within your area.'],

  // validation codes
  v_missing_field: ['未填写', 'is missing'],
  v_wrong_type: ['格式不对', 'has the wrong type'],
  v_unknown_value: ['不是可选的值', 'is not one of the choices'],
  v_empty: ['不能为空', 'must not be empty'],
  v_too_long: ['超出长度上限', 'is too long'],
  v_too_many: ['条目太多', 'has too many entries'],
  v_too_large: ['使记录超出大小上限', 'makes the record too large'],
  v_too_much_text: ['文字总量超出上限', 'holds too much text in total'],
  v_too_much_history: ['修改次数超出上限', 'has too much history'],
  v_immutable_changed: ['创建后不能修改', 'cannot change after creation'],
  v_conflicting_at_creation: ['创建时有冲突', 'conflicted at creation'],
  v_unsupported_schema: ['格式版本不受支持', 'has an unsupported schema version'],
  v_bad_village_code: ['不是有效的村（社区）代码', 'is not a valid village code'],
  v_bad_document_id: ['不是有效的记录编号', 'is not a valid record id'],
  v_timeline_rewritten: ['改写了已有的办理记录', 'rewrites the existing timeline'],
  v_not_the_sender: ['只能以本人名义记录', 'must be written as yourself'],
  v_in_the_future: ['晚于现在超过一天（请检查手机的日期和时间）', 'is more than a day ahead of now (check the phone\'s date and time)'],
  v_other: ['有问题', 'has a problem'],
  field_title: ['标题', 'Title'],
  field_description: ['纠纷情况', 'Description'],
  field_category: ['纠纷类别', 'Category'],
  field_risk: ['风险等级', 'Risk'],
  field_parties: ['当事人', 'Parties'],
  field_village: ['村（社区）', 'Village'],
  field_household: ['走访户', 'Household'],
  field_group: ['村民小组', 'Villagers’ group'],
  field_topics: ['走访事项', 'Topics'],
  field_sentiment: ['群众情绪', 'Sentiment'],
  field_notes: ['走访记录', 'Notes'],
  field_events: ['办理记录', 'Timeline'],
  field_followUp: ['回访', 'Follow-up'],
  field_level: ['上报层级', 'Level'],
  field_type: ['记录类型', 'Record type'],
  field_schema: ['格式版本', 'Schema version'],
  field_createdAt: ['登记时间', 'Creation time'],
  field_createdBy: ['登记人', 'Recorded by'],
  field_assignees: ['承办人', 'Assignees'],
  field_links: ['关联案件', 'Links'],
  field_visitedAt: ['走访时间', 'Visit time'],
  field_linkedDispute: ['关联纠纷', 'Linked dispute'],
  field_document: ['整条记录', 'The record'],
  e_empty: ['有必填项为空', 'a required field is empty'],
  e_bad_value: ['有一项填写不正确', 'a value is not valid'],
  e_missing_level: ['上报需要选择上报至哪一级', 'an escalation needs the level it goes to'],
  e_unexpected_level: ['只有上报才需要选择层级', 'only an escalation has a level'],
  e_unexpected_satisfied: ['只有回访才记录是否满意', 'only a follow-up records satisfaction'],
  e_reported_after_creation: ['登记只在新建案件时记录', 'a report is recorded only when the case is created'],
  e_no_follow_up_needed: ['这次走访不需要回访', 'this visit needs no follow-up'],
  e_no_such_party: ['找不到这位当事人', 'no such party'],
  e_not_editable: ['这条记录无法修改', 'this record cannot be edited'],
  e_already_created: ['记录已经创建过', 'the record was already created'],
  e_document: ['记录已损坏，无法修改', 'the record is damaged and cannot be edited'],
  e_read_only: ['这台手机只能查看，不能修改', 'this phone may only view records'],
  e_signed_out: ['这台手机已被注销，不能再修改', 'this phone was signed out; it cannot edit'],
  e_not_set_up: ['这台手机还没有设置', 'this phone is not set up'],
  e_storage_full: ['手机存储空间已满，请清理空间后重试', 'the phone’s storage is full; free some space and try again'],
  e_storage: ['手机存储出错', 'the phone’s storage failed'],
  e_erased: ['这台手机已在另一个标签页里被清除或更新，请重新加载本页', 'the app was erased or updated in another tab; reload this page'],
  e_blocked: ['应用在另一个标签页里还开着旧版本，请关闭它后重新加载', 'the app is open in another tab with an older version; close it and reload'],
  e_unavailable: ['手机存储暂时不可用，请重新加载本页', 'the phone’s storage is unavailable; reload this page'],
  e_closed: ['应用已关闭，请重新加载本页', 'the app was closed; reload this page'],
  e_not_found: ['这台手机上没有这条记录', 'this record is not on this phone'],
  validationFailed: ['没有保存：{detail}', 'Not saved: {detail}'],
  saveFailed: ['没有保存：{message}', 'Not saved: {message}'],

  // record page
  notFound: ['找不到这条记录（可能已移出您的辖区）。', 'This record was not found (it may have left your area).'],
  readError: [
    '这条记录的部分内容无法读取（可能来自更新版本的应用），只显示概要。',
    'Part of this record cannot be read (perhaps written by a newer app); only its summary is shown.',
  ],
  stage: ['办理阶段', 'Stage'],
  stageAtLevel: ['{stage}（{level}）', '{stage} ({level})'],
  supervisionDue: ['督办期限', 'Supervision deadline'],
  supervisedChip: ['督办 {date}', 'Supervised, due {date}'],
  eventAssignee: ['承办人：{who}', 'Handler: {who}'],
  eventDue: ['期限：{date}', 'Due: {date}'],
  facts: ['基本情况', 'Details'],
  createdBy: ['登记人', 'Recorded by'],
  createdAt: ['登记时间', 'Recorded'],
  visitedAt: ['走访时间', 'Visited'],
  assignees: ['承办人', 'Assigned to'],
  phone: ['电话', 'Phone'],
  timeline: ['办理记录', 'Timeline'],
  noEvents: ['还没有办理记录。', 'Nothing recorded yet.'],
  addEvent: ['添加办理记录', 'Add to the timeline'],
  eventKind: ['办理情况', 'What happened'],
  level: ['上报至', 'Escalated to'],
  satisfied: ['当事人是否满意', 'Were the parties satisfied?'],
  chooseSatisfied: ['请选择当事人是否满意', 'Choose whether the parties were satisfied'],
  yes: ['满意', 'Satisfied'],
  no: ['不满意', 'Not satisfied'],
  eventNote: ['说明（可不填）', 'Note (optional)'],
  outcome: ['结果', 'Outcome'],
  outcomeOptional: ['结果（可不填）', 'Outcome (optional)'],
  add: ['添加', 'Add'],
  changeRisk: ['调整风险等级', 'Change risk'],
  followUp: ['回访', 'Follow-up'],
  followUpNone: ['不需要回访', 'No follow-up needed'],
  followUpDone: ['已回访', 'Follow-up done'],
  followUpDueOn: ['需在 {date} 前回访', 'Follow up by {date}'],
  followUpNoDate: ['需要回访（未定日期）', 'Follow-up needed (no date)'],
  scheduleFollowUp: ['安排回访', 'Schedule a follow-up'],
  assignMe: ['由我承办', 'I’ll handle this case'],
  markFollowUpDone: ['标记为已回访', 'Mark follow-up done'],
  satisfiedYes: ['当事人满意', 'parties satisfied'],
  satisfiedNo: ['当事人不满意', 'parties not satisfied'],
  duplicateOf: ['与另一案件重复', 'Duplicate of another case'],
  anotherPhone: ['其他设备', 'another phone'],
  me: ['我', 'me'],

  // merge news
  newsTitle: ['其他手机的修改已合并', 'Changes from other phones were merged'],
  newsEvents: ['{who}添加了 {n} 条记录', '{n} events added by {who}'],
  newsEvent1: ['{who}添加了 1 条记录', '1 event added by {who}'],
  newsEscalated: ['该案件已上报{level}', 'The case was escalated to {level}'],
  newsEscalatedTown: ['镇里已上报该案件', 'The case was escalated to the town'],
  newsStatus: ['状态变为“{after}”（原为“{before}”）', 'Status is now “{after}” (was “{before}”)'],
  newsRisk: ['风险等级变为“{after}”（原为“{before}”）', 'Risk is now “{after}” (was “{before}”)'],
  newsRiskConflict: ['多台手机对风险等级意见不一，按最高计', 'Phones disagreed on risk; the highest counts'],
  newsSentimentConflict: ['多台手机对群众情绪意见不一，按最严重计', 'Phones disagreed on sentiment; the most severe counts'],
  newsStage: ['办理阶段变为“{after}”（原为“{before}”）', 'Stage is now “{after}” (was “{before}”)'],
  newsAssigned: ['{who}已分派给{handler}承办', '{who} assigned it to {handler}'],
  newsSupervised: ['{who}已督办', '{who} put the case under supervision'],
  newsSupervisedDue: ['{who}已督办，期限 {date}', '{who} put the case under supervision, due {date}'],
  newsDismiss: ['知道了', 'Got it'],
  join: ['；', '; '],
  colon: ['：', ': '],
  fieldProblem: ['{field}{problem}', '{field} {problem}'],
  partyField: ['{party}的{field}', '{party}: {field}'],
  listJoin: ['、', ', '],
  dot: [' · ', ' · '],

  // attention (server refusals)
  attentionTitle: ['这条记录需要处理', 'This record needs attention'],
  a_invalid_record: ['服务器认为记录不符合规范，没有接收。', 'The server found the record invalid and did not accept it.'],
  a_forbidden: ['这台手机无权在该村记录，服务器没有接收。', 'This phone may not write records for that village; the server did not accept it.'],
  a_too_large: ['记录太大，服务器没有接收。', 'The record is too large; the server did not accept it.'],
  a_removed: ['管理员已删除这条记录，修改不会再被接收。', 'An administrator removed this record; changes are no longer accepted.'],
  a_conflict: ['与服务器上的记录冲突。', 'It conflicts with the record on the server.'],
  a_bad_request: ['服务器无法读取这条记录。', 'The server could not read this record.'],
  a_unsupported_version: ['应用版本过旧，请更新后再同步。', 'The app is out of date; update it and sync again.'],
  a_not_found: ['服务器上没有这条记录（不在本机的辖区内），已保留在本机，不再上传。', 'The server holds no such record for this phone; it is kept here and not sent again.'],
  a_unauthorized: ['这台手机的授权已失效。', 'This phone is no longer authorised.'],
  a_rate_limited: ['服务器繁忙，稍后会自动重试。', 'The server is busy; it will retry later.'],
  a_unavailable: ['服务器暂时不可用，稍后会自动重试。', 'The server is unavailable; it will retry later.'],
  a_internal: ['服务器出错，稍后会自动重试。', 'The server had a fault; it will retry later.'],
  a_network: ['网络不通，联网后会自动重试。', 'No connection; it will retry when online.'],
  a_offline: ['网络不通，联网后会自动重试。', 'No connection; it will retry when online.'],
  a_timeout: ['服务器没有及时响应，稍后会自动重试。', 'The server did not answer in time; it will retry later.'],
  a_bad_response: ['服务器的回复无法读取，稍后会自动重试。', 'The server’s answer could not be read; it will retry later.'],
  a_bad_server_data: ['服务器发来的记录已损坏，稍后会自动重试。', 'The server sent a damaged record; it will retry later.'],
  a_storage: ['手机存储出错，请检查剩余空间。', 'The phone’s storage failed; check the free space.'],
  a_too_many_rounds: ['同步未完成，请再同步一次。', 'Sync did not finish; sync again.'],
  a_storage_full: ['手机存储空间已满，未能保存；请清理空间后重试。', 'The phone’s storage is full; nothing was saved. Free some space and try again.'],
  a_blocked: ['应用在另一个标签页里还开着旧版本，请关闭它后重新加载。', 'The app is open in another tab with an older version; close it and reload.'],
  a_erased: ['这台手机已在另一个标签页里被清除或更新，请重新加载本页。', 'The app was erased or updated in another tab; reload this page.'],
  a_closed: ['应用已关闭，请重新加载本页。', 'The app was closed; reload this page.'],
  a_signed_out: ['这台手机已被注销。', 'This phone was signed out.'],
  a_not_set_up: ['这台手机还没有设置。', 'This phone is not set up yet.'],
  a_other: ['服务器没有接收这条记录。', 'The server did not accept this record.'],
  retrySend: ['改好后重新发送', 'Send again'],
  discardLocal: ['放弃本机修改', 'Discard my changes'],
  discardWarn: [
    '将删除这台手机上对这条记录的修改，下次同步时从服务器取回原记录；服务器上没有的记录会被彻底删除。',
    'This deletes this phone’s changes to the record and fetches the server’s copy at the next sync; a record the server does not have is deleted for good.',
  ],
  discardConfirm: ['确认放弃', 'Discard'],
  unsentCount: ['{n} 条未发送', '{n} unsent'],
  serverSaid: ['服务器说明：{message}', 'Server says: {message}'],

  // settings
  settingsTitle: ['设置', 'Settings'],
  language: ['语言 / Language', 'Language / 语言'],
  switchLang: ['English', '中文'],
  device: ['本机信息', 'This phone'],
  person: ['使用人', 'Used by'],
  deviceLabel: ['设备名称', 'Device name'],
  deviceId: ['设备编号', 'Device id'],
  role: ['角色', 'Role'],
  place: ['辖区', 'Area'],
  scope: ['辖区代码', 'Area code'],
  server: ['服务器', 'Server'],
  canWrite: ['可以新建和修改', 'Can add and edit'],
  writePermission: ['权限', 'Permission'],
  readOnlyShort: ['只读', 'Read only'],
  storage: ['本机存储', 'Storage'],
  storageKept: ['已设为持久保存', 'Kept by the browser'],
  storageMayClear: ['空间不足时可能被浏览器清理，请及时同步', 'May be cleared when space runs low; sync often'],
  storageLine: ['{kind}（已用 {mb} MB）', '{kind} ({mb} MB used)'],
  appVersion: ['应用版本', 'App version'],
  exportUnsent: ['导出未发送的记录', 'Export unsent records'],
  exportHint: ['把还没发送到服务器的记录存成一个文件，可交给管理员导入。', 'Save records not yet on the server as a file for your administrator.'],
  exported: ['已导出 {n} 条记录。', 'Exported {n} records.'],
  exported_one: ['已导出 {n} 条记录。', 'Exported {n} record.'],
  exportNothing: ['没有未发送的记录。', 'There are no unsent records.'],
  exportFailed: ['导出失败：{message}', 'Export failed: {message}'],
  signOut: ['退出并清除本机数据', 'Sign out and erase this phone'],
  signOutWarn: [
    '将删除这台手机上的全部记录和授权。还有 {n} 条记录未发送，清除后无法找回，请先导出。',
    'This deletes every record and the sign-in on this phone. {n} records are not yet sent and will be lost; export them first.',
  ],
  signOutWarn_one: [
    '将删除这台手机上的全部记录和授权。还有 {n} 条记录未发送，清除后无法找回，请先导出。',
    'This deletes every record and the sign-in on this phone. {n} record is not yet sent and will be lost; export it first.',
  ],
  signOutWarnNone: ['将删除这台手机上的全部记录和授权。', 'This deletes every record and the sign-in on this phone.'],
  signOutConfirm: ['确认清除', 'Erase'],
  signOutFailed: ['清除失败：{message}', 'Erasing failed: {message}'],

  // signed out by the administrator
  signedOutTitle: ['这台手机已被注销', 'This phone was signed out'],
  signedOutKept: [
    '这台手机已被管理员注销；{n} 条未发送的记录已保留，可以导出。',
    'This phone was signed out by the administrator; {n} unsent records were kept and can be exported.',
  ],
  signedOutKept_one: [
    '这台手机已被管理员注销；{n} 条未发送的记录已保留，可以导出。',
    'This phone was signed out by the administrator; {n} unsent record was kept and can be exported.',
  ],
  signedOutNone: ['这台手机已被管理员注销；没有未发送的记录。', 'This phone was signed out by the administrator; there were no unsent records.'],
  signedOutNext: ['导出后可以清除本机数据，再用新的设置链接重新设置。', 'After exporting, erase this phone and set it up again with a new link.'],
  eraseAndSetup: ['清除并重新设置', 'Erase and set up again'],

  // update
  updateReady: ['新版本可用', 'New version available'],
  reload: ['重新加载', 'Reload'],

  // roles
  role_cadre: ['村干部', 'Village cadre'],
  role_town: ['镇（街道）干部', 'Town official'],
  role_district: ['区级干部', 'District official'],
  role_supervisor: ['村务监督委员会', 'Village affairs supervisor'],
  role_admin: ['管理员', 'Administrator'],
};

/**
 * The text for `key` in the current language.
 * @param {string} key
 * @param {Record<string, string|number>} [vars]
 */
export function t(key, vars) {
  // English counts: "1 record", "2 records" (a `_one` entry where it matters).
  const one = vars && Number(String(vars.n).replace(/,/g, '')) === 1 && T[`${key}_one`];
  const entry = one || T[key];
  let text = entry ? entry[lang === 'en' ? 1 : 0] : key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return text;
}

/** "标题不能为空" / "Title must not be empty": a field's name and a v_ problem key. */
export function problem(field, code) {
  return t('fieldProblem', { field, problem: t(`v_${code}`) });
}

/** Whether the table has `key` (for codes from outside: server errors, validation). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(T, key);
}

/** Every key, for the build check that both languages are filled. */
export const TABLE = T;

/**
 * The values of a schema vocabulary, in schema order.
 * @param {string} name  recordKind, category, risk, sentiment, partyRole, eventKind, level, topic, status
 * @returns {string[]}
 */
export function values(name) {
  return (schema.vocab[name] ?? []).map((e) => e.value);
}

/**
 * The label of `value` in vocabulary `name` in the current language; an
 * unknown value shows as itself.
 */
export function label(name, value) {
  if (value == null) return '';
  const entry = (schema.vocab[name] ?? []).find((e) => e.value === value);
  if (!entry) return String(value);
  return (lang === 'en' ? entry.en : entry.zh) || entry.zh || String(value);
}


/** Formats a count the way both languages read it: 1,204. */
export function num(n) {
  return Number(n).toLocaleString('en-US');
}

function locale() {
  return lang === 'en' ? 'en-GB' : 'zh-CN';
}

/** A date and time, short. */
export function when(ms) {
  if (ms == null) return '';
  const d = new Date(ms);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const opts = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : d.getFullYear() === now.getFullYear()
      ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
      : { year: 'numeric', month: 'short', day: 'numeric' };
  const text = new Intl.DateTimeFormat(locale(), opts).format(d);
  return sameDay ? t('todayAt', { time: text }) : text;
}

/** A date without the time. */
export function day(ms) {
  if (ms == null) return '';
  return new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'short', day: 'numeric' }).format(new Date(ms));
}
