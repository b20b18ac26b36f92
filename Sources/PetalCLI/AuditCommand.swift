import ArgumentParser
import Foundation
import PetalCore
import PetalEvaluation
import PetalModels
import PetalTraining

/// `petal data audit DATA`: the images whose labels are likely wrong, and the same picture
/// under two classes, found with confident learning on a frozen pretrained base's features.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Find images that are likely mislabeled, and the same picture under different classes.",
        discussion: """
        Computes features of every image once with the frozen pretrained base, trains a softmax \
        head in k stratified folds to get out-of-fold probabilities, and applies confident learning \
        (cleanlab's find_label_issues). Writes audit.html (thumbnails, most likely wrong first), \
        audit.json and exclude.txt (for petal train --exclude) into --out.
        """)

    @Argument(help: "A folder with one sub-folder of images per class.") var data: String
    @Option(help: "One of \(Backbones.nameList) (default: efficientnet-lite0).") var backbone: String?
    @Option(parsing: .unconditional, help: "MobileNetV2's width multiplier (default: 1.0).") var alpha: Double?
    @Option(help: "A weights file for the backbone (default: the installed weights).") var weights: String?
    @Option(parsing: .unconditional, help: "Square input size (default: the backbone's native size).") var imageSize: Int?
    @Option(parsing: .unconditional, help: "Cross-validation folds, \(LabelAudit.Limits.folds.lowerBound)...\(LabelAudit.Limits.folds.upperBound) (default: 5).")
    var folds: Int?
    @Option(parsing: .unconditional, help: "Seed of the folds and the heads (default: 42).") var seed: UInt64?
    @Option(parsing: .unconditional, help: "Images per inference batch (default: 32).") var batchSize: Int?
    @Option(parsing: .unconditional, help: "Cosine similarity of features from which two images under different classes count as near-duplicates (default: \(NearDuplicates.defaultThreshold)).")
    var duplicateThreshold: Double?
    @Option(help: "The audit's folder (default: audits/<dataset>); replaced only if it holds an earlier Petal audit.") var out: String?
    @Flag(help: "Print the findings as JSON on standard output.") var json = false

    func validate() throws {
        do { try makeAudit().validate() } catch { throw ValidationError(error.description) }
    }

    func makeAudit() -> LabelAudit {
        var audit = LabelAudit(data: URL(fileURLWithPath: data))
        if let backbone { audit.backbone = backbone.lowercased() }
        if let alpha { audit.alpha = alpha }
        if let weights { audit.weights = URL(fileURLWithPath: weights) }
        audit.imageSize = imageSize
        if let folds { audit.folds = folds }
        if let seed { audit.seed = seed }
        if let batchSize { audit.batchSize = batchSize }
        if let duplicateThreshold { audit.nearDuplicateThreshold = duplicateThreshold }
        return audit
    }

    func run() throws {
        let audit = makeAudit()
        let destination = URL(fileURLWithPath: out ?? "audits/\(audit.data.standardizedFileURL.lastPathComponent)")
        // Refuse a folder that is not ours before an audit's worth of work.
        _ = try AuditFolder.checkDestination(destination, data: audit.data)
        let terminal = isatty(STDERR_FILENO) != 0
        var lastShown = -1
        let result = try audit(message: { Self.stderr($0 + "\n") }, featureProgress: { done, total in
            // A live count on a terminal; otherwise a line every tenth.
            let tenth = done * 10 / max(total, 1)
            if terminal {
                Self.stderr("\r  \(done)/\(total) images" + (done == total ? "\n" : ""))
            } else if tenth != lastShown {
                lastShown = tenth
                Self.stderr("  \(done)/\(total) images\n")
            }
        })
        let page = try AuditFolder.write(result, to: destination)
        let summary = "\(result.issues.count) of \(result.imageCount) images likely mislabeled, "
            + "\(result.nearDuplicates.count) cross-class near-duplicate pairs, \(result.identicalFiles.count) groups of identical files; "
            + "page: \(page.path)"
        if json {
            print(String(decoding: try PetalJSON.encode(result), as: UTF8.self))
            Self.stderr(summary + "\n")
        } else {
            for issue in result.issues.prefix(10) {
                print(String(format: "%@: labelled %@, looks like %@ (%.0f%%)", issue.path, issue.givenLabel,
                             issue.suggestedLabel, issue.suggestedProbability * 100))
            }
            if result.issues.count > 10 { print("... \(result.issues.count - 10) more in \(destination.path)/\(AuditFolder.exclude)") }
            print(summary)
        }
    }

    private static func stderr(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
