import Foundation

/// The process's peak resident memory, recorded per phase in `timings.json`.
///
/// Linux keeps one high-water mark per process (VmHWM). Writing "5" to /proc/self/clear_refs
/// restarts it from the current resident size, so each phase's peak is its own; where the
/// kernel does not allow that, the peak is the process's so far (`phaseOnly` false).
public enum PeakMemory {
    /// Restarts the high-water mark; false where the kernel does not allow it.
    @discardableResult
    public static func reset() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    /// The high-water mark of resident memory in bytes: VmHWM, else getrusage's maximum.
    public static var bytes: Int? {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
            return kilobytes * 1024
        }
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return nil }
        return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
    }
}
