//! The event types of the seed systems, as their own docs name and describe them, so an
//! application can import a whole catalogue at once (`POST /api/v1/event-type/import/{name}`).

/// One catalogue entry: name and short description.
pub type Entry = (&'static str, &'static str);

const MISSKEY: &[Entry] = &[
    ("note", "A user posted a note (including replies and renotes)"),
    ("reply", "Someone replied to one of the user's notes"),
    ("renote", "Someone renoted or quoted one of the user's notes"),
    ("mention", "Someone mentioned the user"),
    ("follow", "The user followed someone"),
    ("followed", "Someone followed the user"),
    ("unfollow", "The user unfollowed (or blocked, or was refused by) someone"),
    ("reaction", "Someone reacted to one of the user's notes (Misskey does not emit it yet)"),
    ("abuseReport", "System webhook: a user was reported"),
    ("abuseReportResolved", "System webhook: a report was resolved"),
    ("userCreated", "System webhook: a user signed up"),
    ("inactiveModeratorsWarning", "System webhook: moderators have been inactive for a while"),
    (
        "inactiveModeratorsInvitationOnlyChanged",
        "System webhook: the server became invitation-only because moderators were inactive",
    ),
];

const MASTODON: &[Entry] = &[
    ("account.approved", "An account was approved"),
    ("account.created", "An account was created"),
    ("account.updated", "A local account was updated"),
    ("report.created", "A report was filed"),
    ("report.updated", "A report was updated"),
    ("status.created", "A local status was posted"),
    ("status.updated", "A local status was edited"),
];

const STRAPI: &[Entry] = &[
    ("entry.create", "An entry was created"),
    ("entry.update", "An entry was updated"),
    ("entry.delete", "An entry was deleted"),
    ("entry.publish", "An entry was published"),
    ("entry.unpublish", "An entry was unpublished"),
    ("entry.draft-discard", "An entry's draft was discarded"),
    ("media.create", "A media file was uploaded"),
    ("media.update", "A media file was updated"),
    ("media.delete", "A media file was deleted"),
    ("review-workflows.updateEntryStage", "An entry moved to another review stage"),
    ("releases.publish", "A release was published (or failed to)"),
];

/// The catalogues by name.
pub const NAMES: &[&str] = &["misskey", "mastodon", "strapi"];

pub fn by_name(name: &str) -> Option<&'static [Entry]> {
    match name {
        "misskey" => Some(MISSKEY),
        "mastodon" => Some(MASTODON),
        "strapi" => Some(STRAPI),
        _ => None,
    }
}
