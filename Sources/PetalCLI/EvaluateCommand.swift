import ArgumentParser
import Foundation
import PetalEvaluation

/// `petal evaluate`: accuracy, top-k accuracy, per-class precision/recall/F1/support, macro
/// and weighted averages, log loss and the confusion matrix of a trained model.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a trained model: accuracy, top-k, per-class precision/recall/F1, log loss, confusion matrix.",
        discussion: """
        petal evaluate RUN                 on the run's own saved test split
        petal evaluate MODEL DATA          on any folder with one sub-folder per class (the model's classes)
        petal evaluate --predictions FILE  from saved predictions (a run's predictions.json)

        Metrics follow scikit-learn's conventions (classification_report, top_k_accuracy_score, \
        log_loss with probabilities clipped at 1e-15, confusion_matrix normalised by true class).
        """)

    @Argument(help: ArgumentHelp("A run folder, or a model file and a data folder.", valueName: "RUN | MODEL DATA"))
    var paths: [String] = []

    @Option(help: ArgumentHelp("Evaluate saved predictions (predictions.json) instead of running a model.", valueName: "file"))
    var predictions: String?

    @Option(name: .customLong("top-k"), help: "k of the top-k accuracy.")
    var topK = 2

    @Flag(help: "Print the metrics as JSON (the layout of metrics.json) instead of tables.")
    var json = false

    @Option(help: ArgumentHelp("Also write the metrics as JSON to this file.", valueName: "file"))
    var output: String?

    func validate() throws {
        if predictions != nil && !paths.isEmpty {
            throw ValidationError("give either --predictions FILE or RUN / MODEL DATA, not both")
        }
        if predictions == nil && !(1...2).contains(paths.count) {
            throw ValidationError("give a run folder, a model file and a data folder, or --predictions FILE")
        }
        if topK < 1 { throw ValidationError("--top-k must be at least 1, not \(topK)") }
    }

    func run() throws {
        let set = try loadPredictions()
        let metrics = try set.metrics(topK: topK)
        if let output { try RunFileIO.write(metrics, to: URL(fileURLWithPath: output)) }
        if json {
            print(String(decoding: try RunFileIO.json(metrics), as: UTF8.self))
        } else {
            print(MetricsTable.render(metrics), terminator: "")
        }
    }

    func loadPredictions() throws -> PredictionSet {
        if let predictions {
            return try RunFileIO.read(PredictionSet.self, from: URL(fileURLWithPath: predictions))
        }
        if paths.count == 1 {
            let folder = URL(fileURLWithPath: paths[0])
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw EvaluationError.notARunFolder(path: folder.path)
            }
            return try Self.runTestPredictions(RunFolder(folder))
        }
        return try Self.modelPredictions(model: URL(fileURLWithPath: paths[0]), data: URL(fileURLWithPath: paths[1]))
    }

    // MARK: - Where model inference plugs in

    /// The run's test-split predictions. Until model inference is wired in (see
    /// `modelPredictions`), these are the ones the trainer saved in predictions.json when it
    /// evaluated the same model on the same test split at the end of training.
    static func runTestPredictions(_ run: RunFolder) throws -> PredictionSet {
        guard let saved = try run.predictions() else {
            throw EvaluationError.unreadableFile(
                path: run.file(RunFile.predictions).path,
                reason: "no saved test predictions in this run folder (was training finished?)")
        }
        FileHandle.standardError.write(Data("note: using the test predictions saved in \(run.file(RunFile.predictions).path)\n".utf8))
        return saved
    }

    /// MODEL INFERENCE PLUGS IN HERE — the single place that needs the trained model.
    /// To do, once PetalModels' `TransferClassifier` is committed:
    ///   let model = try TransferClassifier.load(from: model)
    ///   let folder = try ImageFolder(data)            // check folder.classNames == model.classNames
    ///   for each file (in batches): ImageDecoder.tensor(contentsOf:width:height:normalization:)
    ///   then model.predict(batch) -> [[Float]] softmax rows
    ///   return PredictionSet(classNames: model.classNames,
    ///                        predictions: zip(files, rows).map { PredictionRecord(path:, trueLabel:, probabilities:) })
    /// `runTestPredictions` should then run the model on the run's saved test split the same way.
    static func modelPredictions(model: URL, data: URL) throws -> PredictionSet {
        throw EvaluationError.inconsistentInput(
            "\(model.path): evaluating a model file directly is not available in this build yet; "
                + "use `petal evaluate RUN` or `petal evaluate --predictions RUN/predictions.json`")
    }
}
