import ArgumentParser
import Foundation
import PetalCore
import PetalData
import PetalEvaluation
import PetalInference
import PetalTraining

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

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "k of the top-k accuracy.")
    var topK = 2

    @Flag(help: "Print the metrics as JSON (the layout of metrics.json) instead of tables.")
    var json = false

    @Option(help: ArgumentHelp("Also write the metrics as JSON to this file.", valueName: "file"))
    var output: String?

    @Option(help: "Test-time augmentation: \(TestTimeAugmentation.names) (flip: the mean of the probabilities of each image and its mirror).")
    var tta = TestTimeAugmentation.none.rawValue

    func validate() throws {
        if predictions != nil && !paths.isEmpty {
            throw ValidationError("give either --predictions FILE or RUN / MODEL DATA, not both")
        }
        if predictions == nil && !(1...2).contains(paths.count) {
            throw ValidationError("give a run folder, a model file and a data folder, or --predictions FILE")
        }
        if topK < 1 { throw ValidationError("--top-k must be at least 1, not \(topK)") }
        try checkTTA(tta, predictions: predictions)
    }

    func run() throws {
        let set = try loadPredictions()
        var metrics = try set.metrics(topK: topK)
        if augmentation != .none { metrics.testTimeAugmentation = augmentation.rawValue }
        if let output {
            // Replaces only metrics Petal wrote before.
            try OutputFile.write(PetalJSON.encode(metrics), to: URL(fileURLWithPath: output),
                                 replacingIf: { (try? RunFolder.readJSON(EvaluationMetrics.self, from: $0)) != nil })
        }
        if json {
            print(String(decoding: try PetalJSON.encode(metrics), as: UTF8.self))
        } else {
            print(MetricsTable.render(metrics), terminator: "")
        }
    }

    func loadPredictions() throws -> PredictionSet {
        if let predictions {
            return try RunFolder.readJSON(PredictionSet.self, from: URL(fileURLWithPath: predictions))
        }
        if paths.count == 1 {
            return try Self.runTestPredictions(RunFolder.existingRun(URL(fileURLWithPath: paths[0])).folder, tta: augmentation)
        }
        return try Self.modelPredictions(model: URL(fileURLWithPath: paths[0]), data: URL(fileURLWithPath: paths[1]), tta: augmentation)
    }

    // MARK: - Model inference

    /// The run's final model on the run's own saved test split (split.json), so evaluation
    /// later uses exactly the images training held out.
    static func runTestPredictions(_ run: RunFolder, tta: TestTimeAugmentation = .none) throws -> PredictionSet {
        let modelURL = run.url(.model)
        guard FileManager.default.fileExists(atPath: modelURL.path) else {
            throw EvaluationError.unreadableFile(path: modelURL.path,
                                                 reason: "no finished model in this run folder (was training finished?)")
        }
        // Names split.json itself when it is missing or unreadable.
        let split = try DatasetSplit.load(from: run.url(.split))
        return try predictions(ImageClassifier(contentsOf: modelURL, testTimeAugmentation: tta), files: split.test,
                               classNames: split.classNames)
    }

    /// A trained model on any folder-per-class data with the same classes.
    static func modelPredictions(model: URL, data: URL, tta: TestTimeAugmentation = .none) throws -> PredictionSet {
        let classifier = try ImageClassifier(contentsOf: model, testTimeAugmentation: tta)
        let folder = try ImageFolder(data)
        guard folder.classNames == classifier.classNames else {
            throw EvaluationError.inconsistentInput(
                "\(data.path) has classes \(folder.classNames) but the model was trained on \(classifier.classNames)")
        }
        return try predictions(classifier, files: folder.items, classNames: folder.classNames)
    }

    /// The model's probabilities for the files that decode; the others are named and skipped.
    private static func predictions(_ classifier: ImageClassifier, files: [LabeledFile],
                                    classNames: [String]) throws -> PredictionSet {
        var kept: [LabeledFile] = [], rows: [[Float]] = [], failures: [DataError] = []
        for (file, result) in zip(files, try classifier.probabilities(files: files.map(\.url))) {
            switch result {
            case .success(let row): kept.append(file); rows.append(row)
            case .failure(let error): failures.append(error)
            }
        }
        for failure in failures {
            FileHandle.standardError.write(Data("petal evaluate: skipping \(failure)\n".utf8))
        }
        if !files.isEmpty && kept.isEmpty {
            throw DataError.noImages("none of the \(files.count) images could be decoded (first: \(failures[0]))")
        }
        return PredictionSet(classNames: classNames, files: kept, probabilities: rows)
    }
}
