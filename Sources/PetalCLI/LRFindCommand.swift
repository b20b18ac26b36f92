import ArgumentParser
import Foundation
import PetalCore
import PetalData
import PetalEvaluation
import PetalTraining

/// `petal lr-find DATA`: fastai's `lr_find` on phase 1's set-up, through `LearningRateFinder`.
struct LRFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "Find a learning rate: the loss over an exponential sweep of rates on the frozen base (fastai's lr_find).",
        discussion: """
        A new head on the frozen pretrained base (phase 1 of petal train, with the same split, \
        augmentation, optimizer and loss options) trains for --steps mini-batches while the learning \
        rate grows geometrically from --start-lr to --end-lr; the loss is smoothed as fastai does \
        (moving average, beta 0.98, debiased) and the sweep stops when it exceeds 4x its minimum. \
        The suggestion is fastai's steepest descent point of the smoothed loss (fastai's minimum/10 \
        is printed too). The model is thrown away; lr-find.html (the chart) and lr-find.json go into \
        --out, a new folder or one an earlier lr-find wrote.
        """)

    @Argument(help: "The dataset folder, one sub-folder per class.") var data: String
    @Option(parsing: .unconditional, help: "First learning rate of the sweep.") var startLr = 1e-7
    @Option(parsing: .unconditional, help: "Last learning rate of the sweep, at most \(Int(TransferLearningConfig.Limits.maxLearningRate)).")
    var endLr = 10.0
    @Option(parsing: .unconditional, help: "Mini-batches in the sweep.") var steps = 100
    @Option(help: "One of the backbones of petal train (default: \(LRFindCommand.defaults.backbone)).") var backbone: String?
    @Option(help: "A weights file, 'imagenet', or 'none' (default: the installed weights).") var weights: String?
    @Option(parsing: .unconditional, help: "Square input size (default: the backbone's native size).") var imageSize: Int?
    @Option(parsing: .unconditional, help: "Images per batch (default: \(LRFindCommand.defaults.batchSize)).") var batchSize: Int?
    @Option(help: "rmsprop, adam or sgd (default: \(LRFindCommand.defaults.optimizer.rawValue)).") var optimizer: String?
    @Option(help: "Class weights in the loss, as petal train's: 'balanced' or e.g. daisy=2,rose=1.") var classWeight: String?
    @Option(parsing: .unconditional, help: "Label smoothing, as petal train's (default: 0).") var labelSmoothing: Double?
    @Option(parsing: .unconditional, help: "Seed of the split, shuffling, augmentation and head (default: \(LRFindCommand.defaults.seed)).")
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "oneDNN threads (default: all cores).") var threads: Int?
    @Option(help: "Output folder (default: lr-find/<dataset>-<backbone>-<time>).") var out: String?
    @Flag(help: "Print the finding as JSON (lr-find.json) on standard output.") var json = false

    private static let defaults = TransferLearningConfig(data: "")

    func validate() throws {
        do {
            try sweep.validate()
            let folder = try? ImageFolder(URL(fileURLWithPath: data))
            try makeConfig().validate(imageCount: folder?.count, classNames: folder?.classNames)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }

    var sweep: LearningRateSweep { LearningRateSweep(startLR: startLr, endLR: endLr, steps: steps) }

    func makeConfig() throws -> TransferLearningConfig {
        var config = TransferLearningConfig(data: URL(fileURLWithPath: data).standardizedFileURL.path)
        if let backbone { config.backbone = backbone.lowercased() }
        if let weights { config.weights = weights }
        config.imageSize = imageSize
        if let batchSize { config.batchSize = batchSize }
        if let optimizer {
            guard let kind = OptimizerSpec.Kind(rawValue: optimizer.lowercased()) else {
                throw ValidationError("unknown --optimizer '\(optimizer)': use rmsprop, adam or sgd")
            }
            config.optimizer = kind
        }
        if let classWeight { config.classWeight = try ClassWeight(parsing: classWeight) }
        config.labelSmoothing = labelSmoothing
        if let seed { config.seed = seed }
        config.threads = threads
        return config
    }

    func run() throws {
        let config = try makeConfig()
        let folder = outputFolder(config)
        // Refused before the sweep's minutes, not after.
        try LearningRateFinderPage.checkOwnFolder(folder)
        if let threads { DNNL.threads = threads }
        Interrupt.install()
        let progress = ProgressReporter(style: json ? .quiet : .automatic)
        let finding = try LearningRateFinder.run(config: config, sweep: sweep, progress: progress)
        let page = try LearningRateFinderPage.write(finding, to: folder)
        if json {
            print(String(decoding: try PetalJSON.encode(finding), as: UTF8.self))
            return
        }
        print(String(format: "Suggested learning rate: %.2g (%@)", finding.suggestedLearningRate, LearningRateFinding.suggestionMethod))
        print(String(format: "fastai's minimum/10: %.2g; %d of %d batches, %@", finding.minimumLearningRateOver10,
                     finding.learningRates.count, finding.sweep.steps, finding.stopReason))
        print("Chart: \(page.path)")
    }

    private func outputFolder(_ config: TransferLearningConfig) -> URL {
        out.map { URL(fileURLWithPath: $0) } ?? config.timestampedFolder(in: "lr-find")
    }
}

extension TransferLearningConfig {
    /// `<parent>/<dataset>-<backbone>-<time>`: where `petal train` and `petal lr-find` write without --out.
    func timestampedFolder(in parent: String) -> URL {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let name = URL(fileURLWithPath: data).lastPathComponent
        return URL(fileURLWithPath: parent).appendingPathComponent("\(name)-\(backbone)-\(formatter.string(from: Date()))")
    }
}
