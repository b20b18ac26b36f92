import Foundation

/// Saves the model at the end of epochs: Keras's `ModelCheckpoint` (epoch frequency).
///
/// The file name may hold Python-style placeholders, filled as Keras fills them:
/// `{epoch}` / `{epoch:02d}` with the 1-based epoch, and any log by name, e.g.
/// `{val_accuracy:.3f}`. With `saveBestOnly`, the model is saved only when the monitored
/// value improves on the best so far (see `Monitor`); if the value is missing from the
/// logs, Keras saves anyway, and so does this. The best value is not reset between `fit`
/// calls (as in Keras), so a second phase saves only what beats the first.
///
/// Writing goes through `TrainingContext.saveModel(to:)`, which writes a temporary file
/// and renames it; missing folders are created first.
public final class ModelCheckpoint: ResumableCallback {
    /// The path, possibly with placeholders.
    public let template: String
    public let monitor: Monitor
    public let saveBestOnly: Bool

    public struct State: Codable, Equatable, Sendable {
        public var best: Double?
        public init(best: Double? = nil) { self.best = best }
    }
    public var state: State
    /// 0-based epochs saved, and where, in order.
    public private(set) var saved: [(epoch: Int, url: URL)] = []

    /// - Parameter initialValueThreshold: a starting "best" that a saved model must beat
    ///   (Keras's `initial_value_threshold`), only with `saveBestOnly`.
    public init(url: URL, monitor: String = "val_loss", saveBestOnly: Bool = false, mode: MonitorMode = .auto,
                initialValueThreshold: Double? = nil) throws(CallbackError) {
        template = url.path
        self.monitor = try Monitor(monitor, mode: mode, minDelta: 0, callback: "ModelCheckpoint")
        self.saveBestOnly = saveBestOnly
        state = State(best: initialValueThreshold)
        // Fail now, not after the first epoch, on a placeholder that can never be filled.
        _ = try ModelCheckpoint.fill(template, epoch: 0, logs: [:], requireLogs: false)
    }

    public func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws {
        let url = URL(fileURLWithPath: try ModelCheckpoint.fill(template, epoch: epoch, logs: logs))
        if saveBestOnly {
            if let current = logs[monitor.name] {
                guard monitor.isImprovement(current, over: state.best) else {
                    context.log("Epoch \(epoch + 1): \(monitor.name) did not improve from \(state.best.map { "\($0)" } ?? "None")")
                    return
                }
                context.log("Epoch \(epoch + 1): \(monitor.name) improved from \(state.best.map { "\($0)" } ?? "None") "
                            + "to \(current), saving model to \(url.path)")
                state.best = current
            } else {
                context.log("ModelCheckpoint: can save the best model only with \"\(monitor.name)\" available; saving anyway")
            }
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try context.saveModel(to: url)
        saved.append((epoch, url))
    }

    public var stateKey: String { "ModelCheckpoint(\(monitor.name))" }
    public func encodeState() throws -> Data { try StateCoding.encoder.encode(state) }
    public func decodeState(_ data: Data) throws {
        state = try StateCoding.decode(State.self, data, callback: stateKey)
    }

    /// Fills `{name}` / `{name:spec}` placeholders like Python's `str.format(epoch=epoch + 1,
    /// **logs)`; `{{` and `}}` are literal braces. Specs: `d` forms for the epoch, `f`, `e`,
    /// `g` forms for any value (e.g. `02d`, `.4f`).
    static func fill(_ template: String, epoch: Int, logs: EpochLogs, requireLogs: Bool = true) throws(CallbackError) -> String {
        var out = ""
        var i = template.startIndex
        while i < template.endIndex {
            let c = template[i]
            let next = template.index(after: i)
            if (c == "{" || c == "}") && next < template.endIndex && template[next] == c {
                out.append(c); i = template.index(after: next); continue
            }
            guard c == "{" else {
                if c == "}" { throw .badFileTemplate(template: template, message: "single '}'") }
                out.append(c); i = next; continue
            }
            guard let close = template[next...].firstIndex(of: "}") else {
                throw .badFileTemplate(template: template, message: "'{' without '}'")
            }
            let field = template[next..<close]
            let parts = field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]), spec = parts.count > 1 ? String(parts[1]) : ""
            let allowed = spec.isEmpty || spec.range(of: #"^0?\d*(\.\d+)?[dfeg]$"#, options: .regularExpression) != nil
            guard allowed else { throw .badFileTemplate(template: template, message: "unsupported format \"\(spec)\"") }
            if key == "epoch" {
                guard spec.isEmpty || spec.hasSuffix("d") else {
                    throw .badFileTemplate(template: template, message: "epoch is an integer; use a 'd' format")
                }
                out += spec.isEmpty ? String(epoch + 1) : String(format: "%\(spec)", epoch + 1)
            } else if let value = logs[key] {
                guard !spec.hasSuffix("d") else {
                    throw .badFileTemplate(template: template, message: "\(key) is a number; use an 'f' format")
                }
                out += spec.isEmpty ? String(value) : String(format: "%\(spec)", value)
            } else if requireLogs {
                throw .badFileTemplate(template: template, message: "no value \"\(key)\" in the logs "
                                       + "(\(logs.values.keys.sorted().joined(separator: ", ")))")
            }
            i = template.index(after: close)
        }
        return out
    }
}
