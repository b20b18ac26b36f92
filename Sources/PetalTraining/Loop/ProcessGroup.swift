import Foundation
import PetalCore

/// The processes that train one model together (data parallelism: each holds the whole model
/// and works on its share of every batch), with the few collective operations training needs.
/// `SingleProcess` when training alone; PetalDistributed's `MPIProcessGroup` under `mpirun`.
///
/// Every process must make the same calls in the same order (MPI's rule for collectives).
public protocol ProcessGroup: AnyObject, Sendable {
    /// This process's number, 0..<size; rank 0 alone prints and writes files.
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values`, on every process, by their element-wise sum over all processes.
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Rank `root`'s `data` on every process (the others' argument is ignored).
    func broadcast(_ data: Data, root: Int) throws -> Data
}

/// Training alone: every collective is the identity.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ data: Data, root: Int) throws -> Data { data }
}

/// A step of data-parallel work that rank 0 did for all processes failed there.
public enum ProcessGroupError: Error, CustomStringConvertible, LocalizedError {
    /// Rank 0's own error message (rank 0 reports it; the other ranks end quietly).
    case failedOnRank0(String)

    public var description: String {
        switch self {
        case .failedOnRank0(let message): return "rank 0 failed: \(message)"
        }
    }

    public var errorDescription: String? { description }
}

/// What `agreed` broadcasts: rank 0's value, or its error message.
private struct AgreedOutcome<T: Codable>: Codable {
    var value: T?
    var error: String?
}

/// Rank 0's own error in `ProcessGroup.agreed`, which the other ranks learned too (as
/// `ProcessGroupError.failedOnRank0`): every rank can end normally.
public struct SharedFailure: Error, CustomStringConvertible, LocalizedError {
    public let error: Error
    public var description: String { (error as? LocalizedError)?.errorDescription ?? "\(error)" }
    public var errorDescription: String? { description }
}

public extension ProcessGroup {
    var isRoot: Bool { rank == 0 }

    /// The element-wise sums of `values` over all processes.
    func sum(_ values: [Double]) throws -> [Double] {
        var values = values
        try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return values
    }

    /// What rank 0 makes (e.g. the data split), on every process. When rank 0 fails, it throws
    /// its error and the other processes throw `ProcessGroupError.failedOnRank0`, so none waits.
    func agreed<T: Codable>(_ make: () throws -> T) throws -> T {
        guard size > 1 else { return try make() }
        var thrown: Error?
        var data = Data()
        if isRoot {
            do {
                data = try PetalJSON.encode(AgreedOutcome(value: try make(), error: nil), pretty: false)
            } catch {
                thrown = error
                data = try PetalJSON.encode(AgreedOutcome<T>(value: nil, error: "\(error)"), pretty: false)
            }
        }
        let outcome = try PetalJSON.decode(AgreedOutcome<T>.self, from: broadcast(data, root: 0))
        if let thrown { throw SharedFailure(error: thrown) }
        if let error = outcome.error { throw ProcessGroupError.failedOnRank0(error) }
        guard let value = outcome.value else { throw ProcessGroupError.failedOnRank0("no value") }
        return value
    }
}
