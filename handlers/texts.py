"""Every sentence Baton says, in one place."""

from __future__ import annotations

HELP_EXAMPLE = "State an outcome in plain words, for example:\n  {example}\n"
EXAMPLE_STATEMENT = "{verb} {metric} {change} by 31 March with a budget of {currency} 500"
HELP = (
    "State an outcome in plain words: which metric should move, to what, and by when.\n"
    "Commands:\n"
    "  list                  outcomes in this workspace\n"
    "  status <id>           where an outcome stands\n"
    "  pause <id>|all        pause one outcome, or everything (the kill switch)\n"
    "  resume <id>|all       resume\n"
    "  stop <id>             stop for good\n"
    "  check <id>            measure and plan now instead of at the next tick\n"
    "  audit <id>            the audit trail\n"
    "  policies              the policy rules; policies remove <n> drops a learned one\n"
    "  evidence              what earlier steps measured against their control groups\n"
    "  approvals             what waits for your decision (also: what waits for me?)\n"
    "  away until <day>, delegate @someone   hand your approvals over while away; back\n"
    "  help                  this text"
)

QUESTIONS = {
    "metric": "Which metric should move? I know: {choices}.",
    "metric_again": "I did not recognise a metric in that. Please pick one of: {choices}.",
    "metric_ambiguous": "That could be {choices}. Which one did you mean?",
    "percent": (
        "By {amount:g}%: do you mean {amount:g}% relative (of the current value) "
        "or {amount:g} percentage points? Answer 'relative' or 'points'."
    ),
    "deadline": "By when? For example 'by 31 March', 'end of Q1' or 'within 6 weeks'.",
    "target": "To what value, or by how much? For example 'to {to}' or 'by 10%'.",
}

MODEL_DOWN_AT_INTAKE = (
    " (I read it without the language model, which could not be asked just now: {why}.)"
)

PROBLEMS = {
    "nothing_understood": (
        'I could not find an outcome in "{text}". Try something like '
        "'{example}'. Metrics I can measure: {choices}."
    ),
    "unknown_metric": "This workspace declares no metrics yet, so there is nothing to measure.",
    "wrong_direction": (
        "{metric} is better when it goes {better}, so I will not aim to move "
        "it {asked}{detail}. Nothing was started; say it again with the "
        "target you want."
    ),
    "already_met": (
        "{metric} is already {baseline}, which meets the target of {target}. "
        "Nothing to do; nothing was started."
    ),
    "deadline_past": "The deadline {deadline} has already passed. Nothing was started.",
    "deadline_invalid": (
        'I could not read the date "{phrase}". Nothing was started; try '
        "'by 31 March' or 'by 2027-03-31'."
    ),
    "out_of_bounds": (
        "{metric} {limits}, so {target} cannot be its target.{meant} Nothing was started; "
        "say it again with the target you mean."
    ),
    "far_beyond": (
        "From {baseline} to {target} moves {metric} by more than {far:g} times its "
        "current value.{meant} Nothing was started; say it again with the target you mean."
    ),
    "measure_failed": (
        "I could not measure {metric} right now ({error}), so I cannot set a "
        "baseline. Nothing was started; try again shortly."
    ),
}

DID_YOU_MEAN = " Did you mean {change}?"
LIMITS_BETWEEN = "stays between {low} and {high}"
LIMITS_ABOVE = "is never below {low}"
LIMITS_BELOW = "is never above {high}"
UNDERSTOOD = "Understood so far: {summary}."
STATEMENT_TITLE = "Statement of Benefit"
STATEMENT_LINE = "{metric} {baseline} -> {target} ({change}) by {deadline}"
STATEMENT_FOOTER = "Nothing runs until you confirm."
CONFIRMED = "Confirmed: outcome {id} is active. I will measure {metric} every {every}."
CANCELLED = "Cancelled. Nothing was started."
INTAKE_GONE = "That statement is no longer open (it was confirmed, cancelled or expired)."
CONFIRMED_BEFORE = "Outcome {id} was already confirmed by {who}; it is {status}."
NOT_CONFIRMABLE = (
    "That statement was cancelled, has expired or never was; nothing was started. "
    "State it again to start over."
)
NOT_READY = "That statement is still waiting for an answer; answer its question first."
NOT_OWNER = "Only {owner}, who stated this outcome, can confirm or cancel it."
NOT_YOUR_QUESTION = (
    "This question is for {owner}, who stated the outcome; nothing was changed. "
    "To state an outcome of your own, start a new message."
)
NOT_APPROVER = (
    "Only the approvers of outcome {outcome} ({approvers}) can decide this. "
    "Your attempt was recorded."
)
ALREADY_DECIDED = "Already {status} by {who} at {when}."
ALREADY_VOTED = "You have already {decided} this at {when}; each person counts once. {progress}"
QUORUM_PROGRESS = "{have} of {needed} approvals{by}; awaiting {awaiting}"
QUORUM_BY = " (by {who})"
QUORUM_GROUP = "one from {group}"
ON_BEHALF = "{who} for {of}"
STOOD_IN = "{who} (away: {by} decides)"
AWAY_SET = "You are away until the end of {day} (UTC); {delegate} decides your approvals meanwhile."
AWAY_NOBODY = (
    "You are away until the end of {day} (UTC). Nobody decides for you meanwhile: name "
    "someone with 'away until {day}, delegate @someone'."
)
AWAY_NOT_ELIGIBLE = (
    "{who} may not approve in this workspace and is not a deputy of yours in the workspace "
    "file; nothing was changed."
)
AWAY_PAST = "{day} has passed; nothing was changed."
AWAY_USAGE = "Usage: away until <YYYY-MM-DD>[, delegate @someone], or back."
BACK = "Welcome back: your approvals are yours again."
EDITED = "You approved {id} as edited:\n{changes}"
EDIT_REFUSED = "Not edited, nothing was approved: {why}."
EDIT_DECIDED = "it is {status} already"
EDIT_VOTED = "you have decided it already (each person counts once)"
EDIT_USAGE = (
    "Usage: edit <approval id> <new draft>, or edit <approval id> <parameter>=<value> "
    "(for example: edit a3 percent=10)."
)
EDITED_BY = "Edited by {who} before approving"
EDIT_BUTTON = "Edit"
EDIT_GONE = "That approval is no longer there."
EDIT_UNCHANGED = "Nothing was changed: use Approve to approve it as it is."
EDIT_HOW = "To edit {id}, say: edit {id} <new draft>, or edit {id} <parameter>=<value>."
EDIT_TITLE = "Edit {id}, then approve"
EDIT_INTRO = "{what}: change what you want, then approve the edited version."
EDIT_DRAFT_LABEL = "Draft"
EDIT_SUBMIT = "Approve edited"
EDIT_CANCEL = "Cancel"
EDIT_BOUNDS = "{kind}, {bounds}"
EDIT_YES = "true"
EDIT_NO = "false"
STATS_TITLE = "Approval decisions in {workspace}"
DIGEST_DECISIONS = "Approval decisions this week in {workspace}"
AUDIT_DECISIONS = "Decisions on its approvals:"
STATS_NONE = "No approval has been requested in this workspace yet."
STATS_OVERALL = (
    "{decided} decided ({approved} approved, {rejected} rejected), {expired} expired to "
    "their default, {pending} waiting; time to decide: median {median}, p90 {p90}"
)
STATS_EXTRAS = "{escalations} escalated · {edits} edited before approval"
STATS_APPROVERS = "By approver:"
STATS_APPROVER = "• {who}: {decided} decisions ({approved} approved) · median {median}, p90 {p90}"
STATS_ACTIONS = "By action:"
STATS_ACTION = "• {what}: {approved} of {decided} approved{rate}{expired}"
STATS_RATE = " ({rate:.0%})"
STATS_EXPIRED = ", {expired} expired"
WAITING_TITLE = "Waiting for your decision ({count})"
WAITING_NONE = "Nothing waits for your decision."
WAITING_LINE = "• {id}: {what} (outcome {outcome}) · decide by {when}{progress}{on_behalf}"
WAITING_FOR = " · for {who}, who is away"
WAITING_SHOWN = "The {shown} soonest are shown; the others wait after them."
QUORUM_NOBODY = "nobody left who may approve: it will expire unless someone is added"
REASON_REQUIRED = "Please give a reason for the rejection; the planner learns from it."
NOT_ALLOWED_CONTROL = "You are not allowed to {what}. Ask the outcome's owner or an approver."
NOT_FOUND = "I have no outcome {id}. Try 'list'."
OTHER_TENANT = "This workspace is not served here; nothing was changed."
NO_OUTCOMES = "No outcomes yet. State one in plain words to start."
CONTROL_DONE = "Outcome {id} is now {status}."
CONTROL_ALREADY = "Outcome {id} is {status}; it cannot be {verb} now."
PAUSED_ALL = "Everything in this workspace is paused. Nothing executes until 'resume all'."
RESUMED_ALL = "Everything in this workspace is resumed."
CHECK_QUEUED = "Checking outcome {id} now."
STATUS_CHART_THERE = "The chart is shown when you ask in the outcome's own thread."
USAGE = "Usage: {command} <outcome id>. Try 'list' to see the ids."
UNKNOWN_COMMAND = "I do not know '{word}'.\n"
SOMETHING_WRONG = "Something went wrong on my side; nothing was changed. Please try again."
CANNOT_TAKE_WORK = (
    "Baton cannot take new work right now; nothing was changed. Please try again in a few minutes."
)
BUSY = "I cannot take that right now; nothing was changed. Please try again in a minute."

APPROVAL_TITLE = "Approval needed: {what}"
DRAFT_HEADING = "Draft (sent exactly as shown):"
APPROVED_BY = "Approved by {who} at {when}"
REJECTED_BY = "Rejected by {who} at {when}: {reason}"
EXPIRED = "Expired at {when}: {reason}"
WITHDRAWN = "Withdrawn: the outcome was {status}{by}."
WITHDRAWN_BY = " by {who}"
WITHDRAWN_CLICK = "This approval was withdrawn: the outcome was {status}{by}. Nothing was decided."
APPROVAL_FOR = "Waiting for {people}"
PLAN_TITLE = "Plan for {outcome}: {play}"
PLAN_AROUND = 'Re-planned around {who}\'s rejection: "{reason}"'
STEP_DONE = "Done: {action} ({detail})"
STEP_FAILED = "Did not run: {action}: {detail}"
SHADOW = "[shadow] "
ENDED_TITLE = {"achieved": "Outcome {id} achieved", "missed": "Outcome {id} missed"}
REPORT_AUTONOMY = (
    "{auto} of {total} steps ran with no human decision ({share:.0%}); {human} human decisions."
)
HOLDOUT_SPLIT = "{treated} get this {what}; {control} {verb} held back to measure its effect"
HOLDOUT_NONE = "{audience}; not measured causally: {reason}"
EFFECT_MEASURED = (
    "Measured effect: {effect} (95% CI {low} to {high}), "
    "{treated} treated against {control} held back{early}"
)
EFFECT_EARLY = "; read early, the outcome ended"
EFFECT_NOT_ENOUGH = (
    "Measured effect: not enough data yet ({treated} treated, {control} held back{early})"
)
EFFECT_PENDING = "Effect to be measured on {when}, when its effect window ends"
EFFECT_BEFORE_AFTER = (
    "Not measured causally: the metric moved {effect} since it ran "
    "(before and after, the trend included)"
)
EVIDENCE_LINE = (
    "Evidence: {runs} earlier {word}: {effect} per 100 {rows} treated (95% CI {low} to {high})"
)
EVIDENCE_SEGMENT_LINE = (
    "  {field} {segment}: {effect} per 100 (95% CI {low} to {high}), {runs} {word}"
)
EVIDENCE_IN_SEGMENT = " [segment {segment}]"
EVIDENCE_NONE = "Evidence: no earlier run measured yet; this one will be"
EVIDENCE_TITLE = "Evidence ({count})"
EVIDENCE_EMPTY = "No evidence yet: no step has been measured against a control group."
EVIDENCE_ROW = (
    "{action}{params}{segment} on {metric}: {effect} per 100 treated (95% CI {low} to {high}), "
    "{runs} {word}, {treated} treated against {control} held back"
)
STEP_EFFECT = " · effect {effect} (95% CI {low} to {high}), {control} held back"
STEP_NOT_ENOUGH = " · not enough data yet"
STEP_PENDING = " · effect to be measured on {when}"
STEP_NOT_CAUSAL = " · not measured causally"
STEP_NOT_CAUSAL_MOVED = " · not measured causally (metric moved {effect} since)"
REPORT_EXPLAINED = (
    "The metric moved {movement}: steps measured against a control group explain {explained} "
    "(95% CI {low} to {high}); unexplained (trend, season, everything else): {rest}"
)
PROGRESS_EXPLAINED_FIELD = "Explained"
PROGRESS_EXPLAINED = (
    "{explained} of the {movement} movement by steps measured against a control group "
    "(95% CI {low} to {high})"
)
REPORT_UNEXPLAINED = (
    "The metric moved {movement}: no step was measured against a control group, so none "
    "of it is explained by Baton's steps"
)
INCIDENT_TITLE = "Incident on outcome {id}: {kind}"
INCIDENT_TITLE_CHANNEL = "Incident: {kind}"
INCIDENT_RUNBOOK = "Runbook: RUNBOOK.md#{kind}"
VERDICT_STARTING = "just started"
VERDICT_HALTED = {"paused": "paused", "stopped": "stopped"}
VERDICTS = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "achieved": "achieved",
    "missed": "missed",
}

# Charts: a headline, labels on the chart and the alt text read out in place of the picture
CHART_NO_READING = "No reading yet"
CHART_SUBTITLE = "{metric} · target {target} by {deadline}"
CHART_STANDING_SUBTITLE = "{metric} · hold {target} within SLA"
CHART_WINDOW = "Showing {start} to {end} · deadline {deadline} →"
CHART_TARGET = "target {value}"
CHART_DEADLINE = "deadline"
CHART_TODAY = "today"
CHART_PLAN = "straight line to target"
CHART_PROJECTION = "projection"
CHART_PROJECTED = "≈{value} at deadline"
CHART_HUMAN_STEP = "step a person approved"
CHART_AUTO_STEP = "step that ran by itself"
CHART_STEP_KEY = "{n}  {action} · {who} · {date}"
CHART_WHO = {"human": "approved by a person", "auto": "ran by itself"}
CHART_MORE_STEPS = "+{count} earlier steps: see the status card"
CHART_ALT = (
    "Chart of {metric} for outcome {id}: now {value}, {verdict}. Target {target} by "
    "{deadline}. {readings} readings from {first} to {last}.{projection}{steps}"
)
CHART_ALT_STANDING = (
    "Chart of {metric} for outcome {id}: now {value} within SLA, {verdict}. Target {target}. "
    "{readings} readings from {first} to {last}.{steps}"
)
CHART_ALT_EMPTY = "Chart of {metric} for outcome {id}: no reading yet. Target {target}."
CHART_ALT_PROJECTION = " At this pace about {value} at the deadline."
CHART_ALT_STEPS = " {count} steps finished: {human} approved by a person, {auto} ran by itself."
WEEK_CHART_TITLE = "The week across {count} outcomes"
WEEK_CHART_SUBTITLE = "Bar: way from baseline to target · tick: today's plan"
WEEK_CHART_ROW = "{metric}: {value}"
WEEK_CHART_VERDICT = " · {verdict}"
WEEK_CHART_DETAIL = "{id}{change} · steps: {ran} ran, {human} approved by a person"
WEEK_CHART_CHANGE = " · {change} this week"
WEEK_CHART_MORE = "+{count} more outcomes in the cards below"
WEEK_CHART_ALT = "Chart of the week across {count} outcomes. {rows}"
WEEK_CHART_ALT_ROW = "{id} {metric}: {value}, {share:.0%} of the way to target, {verdict}."

# Slack
SLACK_REJECT_TITLE = "Reject this step"
SLACK_REJECT_SUBMIT = "Reject"
SLACK_REJECT_CLOSE = "Cancel"
SLACK_REJECT_PROMPT = "Why reject {approval}? The planner reads your reason."
SLACK_REJECT_LABEL = "Reason"
SLACK_HOME_TITLE = "Outcomes in this workspace"
SLACK_CONTINUED = "{title} (continued, {part} of {parts})"
SLACK_NOT_SHOWN = "{count} more not shown here (the message would be over Slack's size limit)."
FALLBACK_MESSAGE = (
    "This message could not be shown in full here ({reason}), so here it is in plain text:\n{text}"
)
SLACK_STATED = "{user} stated an outcome: {text}"
SLACK_ON = "Slack: on at POST /slack/events (Web API {api})"
SLACK_SOCKET = "Slack: on in Socket Mode (SLACK_APP_TOKEN)"
SLACK_OFF = (
    "Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_CLIENT_ID and "
    "SLACK_CLIENT_SECRET to install into many workspaces, to turn it on)"
)
SLACK_NO_SIGNING_SECRET = (
    "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not. Set SLACK_SIGNING_SECRET to the "
    "app's signing secret (Slack app settings > Basic Information > App Credentials), "
    "or SLACK_APP_TOKEN for Socket Mode, which needs no signing secret."
)
SLACK_OAUTH_ON = (
    "Slack: on at POST /slack/events, installed per team from GET /slack/install (Web API {api})"
)
SLACK_OAUTH_HALF = "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: set both, or neither."
SLACK_OAUTH_AND_TOKEN = (
    "Set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
    "(installed into many workspaces from /slack/install), not both."
)
SLACK_OAUTH_NO_SECRET = (
    "SLACK_CLIENT_ID is set but SLACK_SIGNING_SECRET is not: Baton verifies each team's "
    "requests with it (Slack app settings > Basic Information > App Credentials)."
)
SLACK_INSTALLED_TITLE = "Baton is installed"
SLACK_INSTALLED = (
    "Baton is installed in {team}. Invite it to a channel (/invite @baton) and type "
    "/outcome help, or open Baton from the apps in Slack's sidebar."
)
SLACK_INSTALL_FAILED_TITLE = "Baton was not installed"
SLACK_INSTALL_FAILED = {
    "invalid_state": "This install link has expired or was already used.",
    "invalid_browser": "This install was started in another browser (or its cookie is gone).",
    "access_denied": "The install was cancelled in Slack.",
    "missing_code": "Slack's answer did not carry an install code.",
}
SLACK_INSTALL_FAILED_OTHER = "Slack did not complete the install ({reason})."
SLACK_INSTALL_AGAIN = "Start again"
SLACK_NOT_INSTALLED = (
    "Baton is not installed in this Slack workspace (or its install was removed): an admin "
    "can install it from Baton's install page, /slack/install on Baton's address."
)
SLACK_ASSISTANT_PROMPTS = (
    ("State an outcome", "help"),  # how to, with an example from the workspace's own metrics
    ("What waits for me?", "What waits for me?"),
    ("How are my outcomes?", "list"),
)
"""The assistant container's suggested prompts: (title, the message it sends)."""
SLACK_ASSISTANT_MEASURING = "is measuring where this stands…"
SLACK_ASSISTANT_WORKING = "is working on it…"
SLACK_ASSISTANT_PLANNING = "is planning the next steps…"

# The console
CONSOLE_BANNER = (
    "Baton console · {workspace} · {store}\n"
    "You are @{user}. Type 'help', plain words, 'confirm <id>', 'approve <id>', "
    "'reject <id> <reason>', 'rule <id>', 'as <user>', or 'quit'."
)
CONSOLE_LOGS = "Logs go to {path}."

# Microsoft Teams
TEAMS_REASON_LABEL = "Reason (needed to reject)"
TEAMS_REASON_PLACEHOLDER = "Why not? The planner learns from it."
TEAMS_REFRESH = "Refresh"
TEAMS_NOT_SHOWN = "{count} more lines not shown here (the card would be over Teams' size limit)."
TEAMS_CHART_APART = "Chart: {title}"
TEAMS_ALREADY_HANDLED = "That was already handled."
TEAMS_REFUSED = (
    "Teams is not served: set {missing} (or BATON_ENV=development to run without "
    "authentication against the Bot Framework Emulator)."
)
TEAMS_WELCOME = "Hello, I am Baton. " + HELP
TEAMS_ON = "Teams: on at POST /api/messages (app {app_id}, {app_type})"
TEAMS_OPEN = "Teams: on at POST /api/messages WITHOUT authentication (BATON_ENV=development)"
APPROVAL_REMINDER = "Reminder: {who}, a decision is waiting: {what}"
APPROVAL_ESCALATED = "Escalated to {to}: nobody has decided yet: {what}"
APPROVAL_DECIDE_BY = "Unanswered at {when}, the policy's default applies."

# What a systems step did, then what it would have done in shadow mode, by receipt noun.
RECEIPT_VERBS = {
    "records": ("wrote", "would write"),
    "requests": ("sent", "would send"),
    "events": ("sent", "would send"),
    "emails": ("sent", "would send"),
}
EXAMPLE_SEEDED = (
    "Example data: created the bundled workspace's CRM (a simulated subscription business) "
    "in {path}; set BATON_WORKSPACE to use your own workspace file."
)
CHECK_UNEXPECTED = "ERROR connection {connection!r}: {kind}: {detail}"
CHECK_NO_LLM = "LLM: none configured (playbooks plan, templates draft; set BATON_LLM to add one)"

MODEL_TOKENS = "Model tokens"
PLAYBOOK_REASONING = "The playbook's reasoning"
EXPECTED_IMPACT = "Expected impact"

RULE_OFFER = "Make this a rule? {rule}"
RULE_OFFER_DETAIL = "Derived from the step you rejected; it applies from the next plan on."
RULE_BUTTON = "Make it a rule"
RULE_ADDED = "Rule added by {who}: {rule}. Policy and planning honour it from the next plan on."
RULE_EXISTS = "That rule is already in the policy: {rule}"
RULE_NOT_ALLOWED = "Only the owner and the approvers may change the policy's rules."
RULE_GONE = "That rejection is no longer there to learn from."
POLICIES_TITLE = "Policy of {workspace}: default {default}"
POLICIES_FILE = "From the workspace file:"
POLICIES_LEARNED = "Learned from decisions (remove with `policies remove <n>`):"
POLICIES_LEARNED_LINE = "{n}. {rule} (accepted by {who} at {when})"
POLICIES_NONE_LEARNED = "No learned rules yet: reject a step with a reason to be offered one."
POLICY_REMOVED = "Rule removed by {who}: {rule}"
POLICY_REMOVED_BEFORE = "Rule {n} was removed by {who}."
POLICY_NO_SUCH_RULE = "There is no learned rule {n}; `policies` lists them."

SLACK_HOME_PENDING = "Pending approvals"
SLACK_HOME_NO_PENDING = "No approvals waiting."
SLACK_HOME_APPROVAL = "• {id}: {what} (outcome {outcome}) · {approvers} · decide by {when}"

DIGEST_TITLE = "Weekly digest · outcome {id}: {objective}"
DIGEST_WORKED = "What worked: {steps}"
DIGEST_NOTHING_MEASURED = "What worked: no step has a measured effect yet."
DIGEST_PENDING = "Waiting for a decision: {approvals}"
DIGEST_SUMMARY = "Weekly digest: {outcomes} active outcome(s)"

STANDING_LINE = "Every {source} within {sla}, worked by the {playbook} playbook: {steps}."
STANDING_METRIC = (
    "Measured as {metric}: the share of cases done within {sla} (target {target}), "
    "with median and p95 time to done. A person sees a case only when it needs one."
)
STANDING_APPROVAL_WHEN = "{action} (a person decides when {field} {op} {value})"
STANDING_TARGET = "{target} of cases within {sla}"
STANDING_CASES = (
    "{done} done ({within} within SLA), {open} open ({overdue} overdue), {failed} stopped"
    " · median {median}, p95 {p95}"
)
STANDING_NO_CASES = "no case yet"
UNKNOWN_CASES = (
    "I understood a rule for every case, but not which cases. Cases I can watch: {sources}."
)
DIGEST_AUTONOMY = (
    "This week {auto} of {ran} steps ran without a human decision ({share:.0%}); "
    "people made {decisions} decision(s)."
)
DIGEST_QUIET = "No step finished this week; people made {decisions} decision(s)."
DIGEST_AUDIT_HEAD = (
    "Audit trail of {workspace} at {head}: `baton audit verify --workspace {workspace} "
    "--head {head}` shows later that nothing up to here was rewritten."
)

AUDIT_FULL = "Every event, hash-chained: `baton audit {id}`; all of it: `baton audit export`."

RATE_LIMITED = (
    "You are sending messages faster than I take them ({messages} per {seconds} s). "
    "I did not act on the last one; please wait a minute and send it again. "
    "Buttons (Approve, Reject, Confirm) always work."
)
AUTONOMY_OFFER = "Approve this without asking next time? {action}"
AUTONOMY_RECORD = "Approved {approved} times by people, never rejected."
AUTONOMY_EVIDENCE = (
    "Measured over {runs} {word}: {effect} per 100 treated (95% CI {low} to {high})."
)
AUTONOMY_BOUNDS = (
    "Within bounds: up to {audience} in the audience and {cost} a step; anything larger, "
    "other parameters, a forbid or the budget still decide as today."
)
AUTONOMY_REVOCABLE = "An owner or approver can accept; it is listed by `policies` and revocable."
AUTONOMY_BUTTON = "Auto-approve within these bounds"
AUTONOMY_ADDED = (
    "Rule added by {who}: {rule}. Baton approves matching steps itself from now on and "
    "the audit names this rule. Revoke it here or with `policies remove <n>`."
)
AUTONOMY_GONE = "That offer is no longer open: {why}"
AUTONOMY_EXPIRED = "it expired, or was never made"
AUTONOMY_REJECTED_SINCE = "a step of it was rejected since, or the action now always asks"
AUTONOMY_REVOKE_BUTTON = "Revoke"
AUTONOMY_REVOKED = "Rule revoked by {who}: {rule}. Steps of it ask a person again."
AUTONOMY_REVOKED_BEFORE = "That rule is no longer in the policy."
POLICIES_EARNED = " · earned"
