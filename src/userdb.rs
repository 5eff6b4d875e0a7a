//! User and group names from `/etc/passwd` and `/etc/group`, as `pwd.getpwuid` /
//! `grp.getgrgid` give them for local accounts. Parsed by hand: a static binary cannot
//! load glibc's NSS modules.
use std::fs;

fn lookup(file: &str, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let entry_id: u32 = fields.next()?.parse().ok()?;
        (entry_id == id && !name.is_empty()).then(|| name.to_string())
    })
}

/// The first user named in `/etc/passwd` with this uid.
pub fn user_name(uid: u32) -> Option<String> {
    lookup("/etc/passwd", uid)
}

/// The first group named in `/etc/group` with this gid.
pub fn group_name(gid: u32) -> Option<String> {
    lookup("/etc/group", gid)
}
