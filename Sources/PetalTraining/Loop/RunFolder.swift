import Foundation
import PetalCore
import PetalModels

/// A run folder: the one place that knows its files' names, whether a folder is Petal's,
/// its lock, its state and how its files are written (atomically, through `PetalJSON`).
///
/// Petal writes only into folders that are its own: a new run is built under a temporary
/// name beside its destination and renamed into place once its data and model are set up,
/// so a failed start leaves nothing behind; the destination must then be absent or empty.
/// A folder is a Petal run when it holds a `state.json` that reads as a `RunState`.
public struct RunFolder: Sendable, Hashable {
    /// Every file a run folder holds.
    public enum File: String, CaseIterable, Sendable, CustomStringConvertible {
        case config = "config.json", state = "state.json", split = "split.json"
        /// The final model, the best one by validation accuracy, and the last epoch's (for resuming).
        case model = "model.safetensors", bestModel = "best.safetensors", lastModel = "last.safetensors"
        case optimizer = "optimizer.safetensors"
        case history = "history.json", historyCSV = "history.csv"
        case dataset = "dataset.json", timings = "timings.json", predictions = "predictions.json"
        case metrics = "metrics.json", report = "report.html"
        /// Held (flock) by the process that trains in the folder.
        case lock = ".petal.lock"

        public var description: String { rawValue }
    }

    public let url: URL

    public init(_ url: URL) { self.url = url.standardizedFileURL }

    public var name: String { url.lastPathComponent }
    public func url(_ file: File) -> URL { url.appendingPathComponent(file.rawValue) }
    public func contains(_ file: File) -> Bool { FileManager.default.fileExists(atPath: url(file).path) }

    /// Resolves a path from predictions.json: absolute as is, relative against the run folder.
    public func resolve(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : url.appendingPathComponent(path)
    }

    // MARK: - Reading and writing files

    /// Writes `value` as pretty JSON (sorted keys, non-finite numbers as strings) to a
    /// temporary file renamed into place.
    public func write<T: Encodable>(_ value: T, to file: File) throws(RunFolderError) {
        let data: Data
        do { data = try PetalJSON.encode(value) } catch {
            throw .cannotWrite(path: url(file).path, reason: "\(error)")
        }
        try write(data, to: file)
    }

    public func write(_ data: Data, to file: File) throws(RunFolderError) {
        do { try data.writeAtomically(to: url(file)) } catch {
            throw .cannotWrite(path: url(file).path, reason: (error as? AtomicWriteError)?.reason ?? "\(error)")
        }
    }

    public func read<T: Decodable>(_ type: T.Type, from file: File) throws(RunFolderError) -> T {
        try Self.readJSON(type, from: url(file))
    }

    /// The file as `T`; nil if it does not exist, a clear error if it is broken.
    public func readIfPresent<T: Decodable>(_ type: T.Type, from file: File) throws(RunFolderError) -> T? {
        contains(file) ? try read(type, from: file) : nil
    }

    public func remove(_ file: File) { try? FileManager.default.removeItem(at: url(file)) }

    /// Reads a JSON file Petal wrote (a run file, wherever it is now).
    public static func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws(RunFolderError) -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .cannotRead(path: url.path, reason: error.localizedDescription)
        }
        do { return try PetalJSON.decode(type, from: data) } catch {
            throw .invalidFile(path: url.path, reason: describe(error))
        }
    }

    /// A one-line account of a decoding error, naming the key path that failed.
    static func describe(_ error: Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' at \(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context))"
        default:
            return "\(error)"
        }
    }

    // MARK: - Whose folder is it

    /// What is at a path, as far as writing a run there is concerned.
    public enum Contents: Sendable, Equatable {
        case absent
        case empty
        case notADirectory
        /// A Petal run, with its state.
        case run(RunState)
        /// Files that are not a Petal run (the first few names).
        case foreign([String])
    }

    public static func contents(of url: URL) throws(RunFolderError) -> Contents {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return .absent }
        guard isDirectory.boolValue else { return .notADirectory }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() } catch {
            throw .cannotRead(path: url.path, reason: error.localizedDescription)
        }
        if names.isEmpty { return .empty }
        guard names.contains(File.state.rawValue) else { return .foreign(Array(names.prefix(5))) }
        // A state.json that does not read is an error naming it, not a reason to write there.
        return .run(try readJSON(RunState.self, from: RunFolder(url).url(.state)))
    }

    /// The Petal run at `url` (for reading it, resuming it or writing its report); throws
    /// `notARun` for anything else.
    public static func existingRun(_ url: URL) throws(RunFolderError) -> (folder: RunFolder, state: RunState) {
        guard case .run(let state) = try contents(of: url) else { throw .notARun(path: url.path) }
        return (RunFolder(url), state)
    }

    /// Throws unless a new run may be made at `url`: nothing there, or an empty folder.
    public static func checkNewRunDestination(_ url: URL) throws(RunFolderError) {
        switch try contents(of: url) {
        case .absent, .empty: return
        case .notADirectory: throw .notADirectory(path: url.path)
        case .foreign(let names): throw .notEmpty(path: url.path, files: names)
        case .run(let state):
            let folder = RunFolder(url)
            if let owner = folder.lockOwner() { throw .inUse(path: url.path, owner: owner) }
            throw state.isFinished ? .holdsFinishedRun(path: url.path) : .holdsUnfinishedRun(path: url.path)
        }
    }

    // MARK: - Building a new run out of sight

    /// Makes a locked, empty folder beside `destination` under a hidden temporary name, for
    /// a new run to be set up in; `commit` renames it into place, `discard` removes it.
    public static func stage(for destination: URL) throws(RunFolderError) -> StagedRunFolder {
        try checkNewRunDestination(destination)
        let destination = destination.standardizedFileURL
        let parent = destination.deletingLastPathComponent()
        var missing: [URL] = []
        var ancestor = parent
        while !FileManager.default.fileExists(atPath: ancestor.path), ancestor.path != "/" {
            missing.append(ancestor)
            ancestor = ancestor.deletingLastPathComponent()
        }
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).petal-new-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            for folder in missing { rmdir(folder.path) }
            throw .cannotCreate(path: destination.path, reason: error.localizedDescription)
        }
        let folder = RunFolder(staging)
        do {
            let lock = try folder.lock()
            return StagedRunFolder(folder: folder, destination: destination, createdAncestors: missing, lock: lock)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            for folder in missing { rmdir(folder.path) }
            throw error
        }
    }

    // MARK: - Lock

    /// Takes the folder's lock (flock on `.petal.lock`), held until the returned lock is
    /// released or deallocated; `inUse` if another process holds it.
    public func lock() throws(RunFolderError) -> RunLock {
        let path = url(.lock).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw .inUse(path: url.path, owner: lockOwner() ?? "another process")
        }
        let note = "petal process \(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = note.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return RunLock(descriptor: descriptor)
    }

    /// Who holds the lock ("petal process 1234"), nil when nobody does. Creates nothing.
    func lockOwner() -> String? {
        let path = url(.lock).path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_SH | LOCK_NB) != 0 else {
            flock(descriptor, LOCK_UN)
            return nil
        }
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.flatMap { $0.isEmpty ? nil : $0 } ?? "another process"
    }
}

/// A run folder's lock; released when deallocated (closing the descriptor ends the flock).
public final class RunLock: Sendable {
    private let descriptor: Int32
    init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }
}

/// A new run's folder while it is set up, under a temporary name beside its destination.
public struct StagedRunFolder: Sendable {
    public let folder: RunFolder
    public let destination: URL
    let createdAncestors: [URL]
    public let lock: RunLock

    /// Renames the folder to its destination (which must still be absent or empty) and
    /// returns it there; the lock stays held.
    public func commit() throws(RunFolderError) -> RunFolder {
        guard rename(folder.url.path, destination.path) == 0 else {
            let code = errno
            discard()
            switch code {
            case ENOTEMPTY, EEXIST: throw .appeared(path: destination.path)
            case ENOTDIR: throw .notADirectory(path: destination.path)
            default: throw .cannotCreate(path: destination.path, reason: String(cString: strerror(code)))
            }
        }
        return RunFolder(destination)
    }

    /// Removes the temporary folder and any parent folders `stage` created.
    public func discard() {
        try? FileManager.default.removeItem(at: folder.url)
        for ancestor in createdAncestors { rmdir(ancestor.path) }
    }
}

/// Problems with a run folder; each names the folder or file and what to do.
public enum RunFolderError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case notADirectory(path: String)
    case notEmpty(path: String, files: [String])
    case holdsFinishedRun(path: String)
    case holdsUnfinishedRun(path: String)
    case finished(path: String)
    case notARun(path: String)
    case inUse(path: String, owner: String)
    case appeared(path: String)
    case cannotCreate(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case invalidFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notADirectory(path): return "\(path) is a file, not a folder: choose another --out"
        case let .notEmpty(path, files):
            return "\(path) holds files that are not a Petal run (\(files.joined(separator: ", "))); "
                + "Petal writes only into a new or empty folder: choose another --out"
        case let .holdsFinishedRun(path):
            return "\(path) holds a finished run: choose another --out (see its results with petal report \(path))"
        case let .holdsUnfinishedRun(path):
            return "\(path) holds an unfinished run: continue it with petal train --resume \(path), or choose another --out"
        case let .finished(path):
            return "\(path) is a finished run; there is nothing to resume (its model is \(path)/\(RunFolder.File.model))"
        case let .notARun(path): return "\(path) is not a Petal run folder (no \(RunFolder.File.state))"
        case let .inUse(path, owner): return "\(path) is in use by \(owner): wait until it ends"
        case let .appeared(path):
            return "\(path) was created by another process while this run was being set up; it is left alone: choose another --out"
        case let .cannotCreate(path, reason): return "\(path): cannot create the run folder (\(reason))"
        case let .cannotWrite(path, reason): return "\(path): cannot write (\(reason))"
        case let .cannotRead(path, reason): return "\(path): cannot read (\(reason))"
        case let .invalidFile(path, reason): return "\(path): not valid for this file (\(reason))"
        }
    }

    public var errorDescription: String? { description }
}

/// One phase's outcome: how long it took and how well the model then did on the test split.
public struct PhaseResult: Codable, Sendable, Equatable {
    public var name: String
    public var epochs: Int
    public var seconds: Double
    public var imagesPerSecond: Double
    public var bestValidationAccuracy: Double?
    public var testLoss: Double
    public var testAccuracy: Double
    /// Peak resident memory in bytes: the phase's own when `peakMemoryPhaseOnly`, else the
    /// process's up to the phase's end (`PeakMemory`).
    public var peakMemoryBytes: Int?
    public var peakMemoryPhaseOnly: Bool?
}

/// Where a run is, saved after every epoch as `state.json` so `petal train --resume` can
/// continue from the last completed epoch; its presence makes a folder a Petal run.
public struct RunState: Codable, Sendable, Equatable {
    public static let featureExtraction = "feature-extraction", fineTuning = "fine-tuning", done = "done"
    public var phase = RunState.featureExtraction
    /// The next epoch to run (global numbering, 0-based).
    public var nextEpoch = 0
    /// The epoch at which fine-tuning starts (known once phase 1 ended).
    public var fineTuningStartEpoch: Int?
    public var learningRate: Double?
    public var callbackStates: String?
    public var phases: [PhaseResult] = []
    /// The training loss's class weights by class name (`--class-weight`), as resolved on the training split.
    public var classWeights: [String: Double]?
    /// Images left out by `--exclude` before the split (nil without it).
    public var excludedImages: Int?

    public init() {}

    public var isFinished: Bool { phase == RunState.done }
}

extension TransferClassifier {
    /// A model file, or a run folder's final model: `petal predict RUN ...`, `petal evaluate RUN DATA`.
    public static func load(fileOrRunFolder url: URL) throws -> TransferClassifier {
        try load(from: modelFile(fileOrRunFolder: url))
    }

    /// The model file itself, or a run folder's final model.
    public static func modelFile(fileOrRunFolder url: URL) -> URL {
        var isDirectory: ObjCBool = false
        let isFolder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
        return isFolder ? RunFolder(url).url(.model) : url
    }
}
