import CMPIShim
import Foundation
import PetalCore
import PetalTraining

/// MPI failures, each naming the operation and MPI's message.
public enum DistributedError: Error, CustomStringConvertible, LocalizedError {
    /// mpirun started the process but MPI could not be set up (library missing, wrong version).
    case unavailable(String)
    /// A collective operation failed, usually because another rank has died.
    case collectiveFailed(operation: String, rank: Int, reason: String)

    public var description: String {
        switch self {
        case .unavailable(let message): return message
        case let .collectiveFailed(operation, rank, reason):
            return "rank \(rank): MPI \(operation) failed (\(reason)); another rank has probably stopped"
        }
    }

    public var errorDescription: String? { description }
}

/// The processes `mpirun` started, through Open MPI's libmpi (loaded by the CMPIShim target
/// only when mpirun started the process, so a single process never loads it). MPI is called
/// from the thread that initialised it (MPI_THREAD_FUNNELED): Petal's training loop.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int

    private init() {
        rank = Int(petal_mpi_rank())
        size = Int(petal_mpi_size())
    }

    /// True when mpirun (or a PMIx launcher) started this process as one of several.
    public static var isLaunched: Bool { petal_mpi_launched() != 0 }

    /// The processes of this job: MPI's, set up on first use, under mpirun; otherwise one
    /// process, without loading MPI. A collective that waits longer than PETAL_MPI_TIMEOUT
    /// seconds (default 600; 0 turns the watchdog off) ends the job with a message.
    public static func current() throws -> ProcessGroup {
        guard isLaunched else { return SingleProcess() }
        if petal_mpi_active() == 0 {
            var message = [CChar](repeating: 0, count: 1024)
            guard petal_mpi_init(&message, message.count) == 0 else {
                throw DistributedError.unavailable(Self.text(message))
            }
            let timeout = ProcessInfo.processInfo.environment["PETAL_MPI_TIMEOUT"].flatMap(Double.init) ?? 600
            petal_mpi_set_timeout(timeout)
            // The cores of this node shared by its ranks (a command's --threads still applies after).
            let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
            DNNL.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
        }
        return MPIProcessGroup()
    }

    /// True once MPI is set up in this process (and until it ends).
    public static var isRunning: Bool { petal_mpi_active() != 0 }

    /// Ends every process of the job with `code` (when MPI is running; otherwise only this one).
    public static func abort(code: Int32) -> Never {
        petal_mpi_abort(code)
        exit(code)
    }

    /// Seconds this process has spent in allreduces so far (waiting for the others included).
    public static var secondsInAllreduce: Double { petal_mpi_seconds_in_allreduce() }
    /// Allreduces this process has called so far (two per training step, two per evaluation).
    public static var allreduceCalls: Int { Int(petal_mpi_allreduce_calls()) }

    /// One line on the time spent communicating, for the user and benchmarks/mpi_scaling.sh.
    public func communicationSummary() -> String {
        let seconds = Self.secondsInAllreduce, calls = Self.allreduceCalls
        return String(format: "MPI: %d ranks; rank %d spent %.2f s in %d allreduces (%.2f ms per pair, i.e. per training step; waiting for the other ranks included)",
                      size, rank, seconds, calls, calls > 0 ? 2000 * seconds / Double(calls) : 0)
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = values.baseAddress else { return }
        try check(petal_mpi_allreduce_sum_float(base, values.count), "Allreduce of \(values.count) floats")
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        guard let base = values.baseAddress else { return }
        try check(petal_mpi_allreduce_sum_double(base, values.count), "Allreduce of \(values.count) doubles")
    }

    public func broadcast(_ data: Data, root: Int) throws -> Data {
        var count = UInt64(data.count)
        try check(petal_mpi_broadcast(&count, 8, Int32(root)), "Bcast of a length")
        var bytes = rank == root ? data : Data(count: Int(count))
        guard count > 0 else { return bytes }
        try bytes.withUnsafeMutableBytes { buffer in
            try check(petal_mpi_broadcast(buffer.baseAddress, buffer.count, Int32(root)), "Bcast of \(count) bytes")
        }
        return bytes
    }

    /// A C string in `buffer`, up to its terminating zero.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func barrier() throws { try check(petal_mpi_barrier(), "Barrier") }

    private func check(_ code: Int32, _ operation: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        petal_mpi_error_string(code, &text, text.count)
        throw DistributedError.collectiveFailed(operation: operation, rank: rank, reason: Self.text(text))
    }
}

public extension ProcessGroup {
    /// Every process's `mine`, concatenated in rank order, on every process.
    func allGather<T: Codable>(_ mine: [T]) throws -> [T] {
        guard size > 1 else { return mine }
        let data = try PetalJSON.encode(mine, pretty: false)
        return try (0..<size).flatMap { root in
            try PetalJSON.decode([T].self, from: broadcast(data, root: root))
        }
    }
}
