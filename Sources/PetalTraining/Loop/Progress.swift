import Foundation
import PetalCore
import Synchronization

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
            var numbers = logs.values
            numbers["epoch"] = Double(epoch + 1)
            numbers["lr"] = learningRate
            numbers["seconds"] = seconds
            numbers["images_per_second"] = imagesPerSecond
            printLine(JSONLine(strings: ["event": "epoch", "phase": phase], numbers: numbers))
        }
        fflush(nil)  // all output streams (Swift 6 rejects reading the C global `stdout`)
    }

    /// A message (a callback's note, a phase change), unless quiet; JSON lines wrap it.
    public func message(_ text: String) {
        switch style {
        case .quiet: return
        case .jsonLines:
            printLine(JSONLine(strings: ["event": "message", "message": text]))
        case .bar: FileHandle.standardError.write(Data((text + "\n").utf8))
        case .lines: print(text)
        }
        fflush(nil)  // all output streams (Swift 6 rejects reading the C global `stdout`)
    }
}

extension ProgressReporter {
    /// One `--json-lines` object: Petal's JSON (sorted keys, so a stable order; non-finite
    /// numbers as strings, so a diverged epoch is still reported).
    struct JSONLine: Encodable {
        var strings: [String: String]
        var numbers: [String: Double] = [:]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in strings { try container.encode(value, forKey: Key(stringValue: key)) }
            for (key, value) in numbers { try container.encode(value, forKey: Key(stringValue: key)) }
        }
    }

    func printLine(_ line: JSONLine) {
        if let text = try? PetalJSON.line(line) { print(text) }
    }
}

/// Ctrl-C during training: the first press asks the loop to stop after the current batch
/// (what was done is kept); a second press ends the process at once.
public enum Interrupt {
    /// Atomic: written by the signal handler, read by the training loop's thread.
    private static let flag = Atomic<Bool>(false)

    public static var requested: Bool { flag.load(ordering: .relaxed) }

    public static func install() {
        signal(SIGINT) { _ in
            if Interrupt.flag.load(ordering: .relaxed) { _exit(130) }
            Interrupt.flag.store(true, ordering: .relaxed)
            let note = "\nInterrupted: stopping after this batch (press Ctrl-C again to quit now)\n"
            _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
    }

    /// For tests: as if Ctrl-C had been pressed (or not).
    public static func simulate(_ value: Bool) { flag.store(value, ordering: .relaxed) }
}
