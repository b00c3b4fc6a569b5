//! Process statistics from /proc/self (Linux): CPU time, memory, threads, file descriptors.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub threads: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    /// Unix time the process started.
    pub start_time: f64,
}

/// Reads the current process's statistics; None where /proc is not available.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
    let page = rustix::param::page_size() as u64;
    let mut stats = parse_stat(&stat, ticks, page)?;
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| parse_boot_time(&s));
    stats.start_time += boot_time.unwrap_or(0) as f64;
    stats.open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
    stats.max_fds = std::fs::read_to_string("/proc/self/limits").ok().and_then(|s| parse_max_fds(&s));
    Some(stats)
}

/// Parses /proc/self/stat. The command name (field 2) may hold spaces and parentheses, so fields
/// are counted from the last ')'. `start_time` is left relative to boot.
fn parse_stat(stat: &str, ticks_per_second: f64, page_size: u64) -> Option<ProcessStats> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    let num = |field: usize| f.get(field - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcessStats {
        cpu_seconds: (num(14)? + num(15)?) as f64 / ticks_per_second,
        threads: num(20)?,
        start_time: num(22)? as f64 / ticks_per_second,
        virtual_bytes: num(23)?,
        resident_bytes: num(24)? * page_size,
        open_fds: 0,
        max_fds: None,
    })
}

fn parse_boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_strange_command_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 5000 \
                    104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let s = parse_stat(stat, 100.0, 4096).unwrap();
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.threads, 7);
        assert_eq!(s.start_time, 50.0);
        assert_eq!(s.virtual_bytes, 104_857_600);
        assert_eq!(s.resident_bytes, 2560 * 4096);
    }

    #[test]
    fn parses_limits_and_boot_time() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(parse_boot_time("cpu 1 2 3\nbtime 1700000000\n"), Some(1_700_000_000));
    }

    #[test]
    fn reads_this_process() {
        let s = read().expect("/proc is mounted");
        assert!(s.resident_bytes > 0 && s.threads >= 1 && s.open_fds >= 3);
        assert!(s.start_time > 1_600_000_000.0, "{}", s.start_time);
    }
}
