import Foundation
import PetalCore
import PetalTraining

/// `petal train` on several processes (`mpirun -np N petal train ...`).
///
/// Rank 0 makes the user's run (new, or resumed from its folder), exactly as one process
/// would, and alone writes into its folder. Every other rank runs the same run in a private
/// scratch folder under the temporary directory (removed when it ends; never the user's
/// folder): it gets rank 0's configuration and, on `--resume`, rank 0's checkpoint files
/// (state, split, last model, optimizer and callback state), so every rank starts from the same
/// weights. The data folder must be at the same path on every node.
public struct DistributedRun {
    /// The run this process executes.
    public let run: TransferLearningRun
    /// The scratch folder of a rank other than 0, to remove with `cleanUp()`.
    public let scratch: URL?

    /// Files that a resumed run reads; rank 0 sends them to the others.
    static let resumeFiles: [RunFolder.File] = [.config, .state, .split, .lastModel, .optimizer, .history]

    private struct Start: Codable {
        var config: TransferLearningConfig
        var resuming: Bool
        var files: [String: Data]
    }

    /// Makes this rank's run: `makeRootRun` on rank 0 (its errors end every rank, reported by
    /// rank 0 alone), a replica of it on the others, and sets the run's process group.
    public static func make(group: ProcessGroup, progress: ProgressReporter,
                            makeRootRun: () throws -> TransferLearningRun) throws -> DistributedRun {
        var rootRun: TransferLearningRun?
        let start = try group.agreed { () throws -> Start in
            let run = try makeRootRun()
            rootRun = run
            let resuming = RunFolder(run.folder).contains(.state)
            var files: [String: Data] = [:]
            if resuming {
                for file in resumeFiles where RunFolder(run.folder).contains(file) {
                    files[file.rawValue] = try Data(contentsOf: RunFolder(run.folder).url(file))
                }
            }
            return Start(config: run.config, resuming: resuming, files: files)
        }
        let made: DistributedRun
        if let rootRun {
            made = DistributedRun(run: rootRun, scratch: nil)
        } else {
            let scratch = FileManager.default.temporaryDirectory
                .appendingPathComponent("petal-rank\(group.rank)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
            let folder = scratch.appendingPathComponent("run")
            do {
                let run: TransferLearningRun
                if start.resuming {
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                    for (name, data) in start.files { try data.writeAtomically(to: folder.appendingPathComponent(name)) }
                    run = try TransferLearningRun(resuming: folder, progress: progress)
                } else {
                    run = try TransferLearningRun(config: start.config, folder: folder, progress: progress)
                }
                made = DistributedRun(run: run, scratch: scratch)
            } catch {
                try? FileManager.default.removeItem(at: scratch)
                throw error
            }
        }
        made.run.processGroup = group
        return made
    }

    /// Removes a scratch folder (nothing on rank 0).
    public func cleanUp() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }
}
