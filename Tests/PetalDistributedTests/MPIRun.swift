import Foundation
import PetalTestSupport

/// `mpirun -np N --oversubscribe petal ...` on this machine only (shared memory and loopback),
/// as root too (CI), with one oneDNN thread per rank.
enum MPIRun {
    static var executable: URL? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        return paths.map { URL(fileURLWithPath: $0).appendingPathComponent("mpirun") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    static let environment = [
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        // Containers often forbid the cross-memory attach of shared-memory transfers.
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        "OMPI_MCA_btl_tcp_if_include": "lo", "OMPI_MCA_oob_tcp_if_include": "lo",
    ]

    static func arguments(ranks: Int, _ petal: [String]) -> [String] {
        ["-np", String(ranks), "--oversubscribe", "--bind-to", "none", PetalProcess.executable.path] + petal
    }

    static func run(ranks: Int, _ petal: [String]) throws -> PetalProcess.Result {
        try PetalProcess.run(executable: executable!, arguments(ranks: ranks, petal), environment: environment)
    }

    /// Runs mpirun and, once `when()` holds (checked every 20 ms), kills rank `killRank` with SIGKILL.
    static func run(ranks: Int, _ petal: [String], killRank: Int, when: @escaping @Sendable () -> Bool) throws -> PetalProcess.Result {
        let killer = Thread {
            let deadline = Date().addingTimeInterval(300)
            while Date() < deadline {
                if when(), let pid = rankProcess(killRank) { kill(pid, SIGKILL); return }
                usleep(20_000)
            }
        }
        killer.start()
        return try run(ranks: ranks, petal)
    }

    /// The process of rank `rank` of a running petal under mpirun (found by its environment).
    static func rankProcess(_ rank: Int) -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let executable = PetalProcess.executable.resolvingSymlinksInPath().path
        for entry in entries {
            guard let pid = Int32(entry),
                  (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/exe")) == executable,
                  let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
