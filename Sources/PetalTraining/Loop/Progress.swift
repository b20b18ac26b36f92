import Foundation

/// How training reports progress: a live bar on a terminal, one line per epoch otherwise,
/// JSON lines for scripts, or nothing.
public enum ProgressStyle: String, Codable, Sendable, CaseIterable {
    case bar, lines, jsonLines = "json-lines", quiet

    /// A bar when standard error is a terminal, else one line per epoch.
    public static var automatic: ProgressStyle { isatty(STDERR_FILENO) != 0 ? .bar : .lines }
}

/// Prints training progress in one of the `ProgressStyle`s. Bars go to standard error;
/// epoch lines and JSON lines to standard output.
public final class ProgressReporter: @unchecked Sendable {  // unchecked: used by the training loop's thread only
    public let style: ProgressStyle
    private var epochStart = Date()
    private var lastDraw = Date.distantPast
    private var header = ""

    public init(style: ProgressStyle) { self.style = style }

    public func epochBegan(epoch: Int, of total: Int, phase: String) {
        epochStart = Date()
        header = "Epoch \(epoch + 1)/\(total) (\(phase))"
        if style == .bar { FileHandle.standardError.write(Data((header + "\n").utf8)) }
    }

    public func batchEnded(batch: Int, of batches: Int, logs: EpochLogs, images: Int) {
        guard style == .bar else { return }
        let now = Date()
        guard batch + 1 == batches || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(epochStart)
        let done = batch + 1
        let eta = elapsed / Double(done) * Double(batches - done)
        let width = 24
        let filled = width * done / max(batches, 1)
        let bar = String(repeating: "=", count: max(filled - 1, 0)) + (filled > 0 ? ">" : "")
            + String(repeating: ".", count: width - filled)
        let line = String(format: "\r%4d/%d [%@] ETA %3.0fs - loss %.4f - accuracy %.4f - %.0f img/s", done, batches,
                          bar, eta, logs.loss ?? 0, logs.accuracy ?? 0, Double(images) / max(elapsed, 1e-9))
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func epochEnded(epoch: Int, phase: String, logs: EpochLogs, learningRate: Double, seconds: Double,
                           imagesPerSecond: Double) {
        let metrics = ["loss", "accuracy", "val_loss", "val_accuracy"].compactMap { key in
            logs[key].map { String(format: "%@ %.4f", key, $0) }
        }.joined(separator: " - ")
        switch style {
        case .quiet:
            return
        case .bar:
            FileHandle.standardError.write(Data(String(format: "\n  %.1fs - %@ - lr %.3g\n", seconds, metrics, learningRate).utf8))
        case .lines:
            print(String(format: "%@: %.1fs, %.0f img/s - %@ - lr %.3g", header, seconds, imagesPerSecond, metrics,
                         learningRate))
        case .jsonLines:
            var object: [String: Any] = ["event": "epoch", "epoch": epoch + 1, "phase": phase, "lr": learningRate,
                                         "seconds": seconds, "images_per_second": imagesPerSecond]
            for (k, v) in logs.values { object[k] = v }
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                print(String(decoding: data, as: UTF8.self))
            }
        }
        fflush(nil)  // all output streams (Swift 6 rejects reading the C global `stdout`)
    }

    /// A message (a callback's note, a phase change), unless quiet; JSON lines wrap it.
    public func message(_ text: String) {
        switch style {
        case .quiet: return
        case .jsonLines:
            if let data = try? JSONSerialization.data(withJSONObject: ["event": "message", "message": text]) {
                print(String(decoding: data, as: UTF8.self))
            }
        case .bar: FileHandle.standardError.write(Data((text + "\n").utf8))
        case .lines: print(text)
        }
        fflush(nil)  // all output streams (Swift 6 rejects reading the C global `stdout`)
    }
}

/// Ctrl-C during training: the first press asks the loop to stop after the current batch
/// (what was done is kept); a second press ends the process at once.
public enum Interrupt {
    nonisolated(unsafe) public private(set) static var requested = false

    public static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested { _exit(130) }
            Interrupt.requested = true
            let note = "\nInterrupted: stopping after this batch (press Ctrl-C again to quit now)\n"
            _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
    }

    /// For tests: as if Ctrl-C had been pressed (or not).
    public static func simulate(_ value: Bool) { requested = value }
}
