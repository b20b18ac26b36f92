import Foundation
import PetalCore
import PetalData
import PetalModels
@testable import PetalTraining
import PetalTestSupport
import XCTest

/// `TransferLearningConfig.validate()`: every bad setting is refused with its option's name
/// and range, before any file is written.
final class ConfigValidationTests: XCTestCase {
    private let base = TransferLearningConfig(data: "/data/flowers")

    private func error(_ change: (inout TransferLearningConfig) -> Void) -> ConfigError? {
        var config = base
        change(&config)
        do { try config.validate() } catch { return error }
        return nil
    }

    func testDefaultsAndUsualSettingsAreValid() throws {
        try base.validate()
        var config = base
        config.backbone = "mobilenetv2"; config.alpha = 0.35; config.imageSize = 160; config.batchSize = 1
        config.epochsFeatureExtraction = 0; config.epochsFineTuning = 1; config.learningRate = 10
        config.trainFraction = 0.8; config.validationFraction = 0; config.testFraction = 0.2
        config.augmentation = Augmentation(rotationDegrees: 180, widthShift: 1, heightShift: 0, zoom: 1, brightness: 1, contrast: 1)
        config.head = HeadConfig(hiddenUnits: [256, 128], dropout: 0)
        config.threads = 1; config.fineTuneAt = "100"
        try config.validate()
    }

    /// Each out-of-range value names its option (as the command line spells it) and the range.
    func testOutOfRangeValuesNameTheOptionAndRange() {
        let cases: [(String, (inout TransferLearningConfig) -> Void, String)] = [
            ("--threads", { $0.threads = 0 }, "--threads is 0; it must be between 1 and 1024"),
            ("--threads", { $0.threads = -3 }, "--threads is -3; it must be between 1 and 1024"),
            ("--batch-size", { $0.batchSize = 0 }, "--batch-size is 0; it must be between 1 and 4096"),
            ("--image-size", { $0.imageSize = 100_000 }, "--image-size is 100000; it must be between 32 and 1024"),
            ("--image-size", { $0.imageSize = 16 }, "--image-size is 16; it must be between 32 and 1024"),
            ("--epochs-fe", { $0.epochsFeatureExtraction = -1 }, "--epochs-fe is -1; it must be between 0 and 10000"),
            ("--epochs-ft", { $0.epochsFineTuning = 10_001 }, "--epochs-ft is 10001; it must be between 0 and 10000"),
            ("--lr", { $0.learningRate = 1e30 }, "--lr is 1e+30; it must be above 0 and at most 10"),
            ("--lr", { $0.learningRate = 0 }, "--lr is 0; it must be above 0 and at most 10"),
            ("--lr-ft", { $0.fineTuneLearningRate = -1e-4 }, "--lr-ft is -0.0001; it must be above 0 and at most 10"),
            ("--augment zoom", { $0.augmentation.zoom = 50 }, "--augment zoom is 50; it must be between 0 and 1"),
            ("--augment brightness", { $0.augmentation.brightness = 1000 }, "--augment brightness is 1000; it must be between 0 and 1"),
            ("--augment rotation", { $0.augmentation.rotationDegrees = -5 }, "--augment rotation is -5; it must be between 0 degrees and 180 degrees"),
            ("--augment width-shift", { $0.augmentation.widthShift = 2 }, "--augment width-shift is 2; it must be between 0 and 1"),
            ("--augment contrast", { $0.augmentation.contrast = -0.5 }, "--augment contrast is -0.5; it must be between 0 and 1"),
            ("--dropout", { $0.head.dropout = 1 }, "--dropout is 1; it must be at least 0 and below 1"),
            ("--hidden", { $0.head.hiddenUnits = [128, 0] }, "--hidden is 0; it must be between 1 and 65536"),
            ("--split train", { $0.trainFraction = 0; $0.validationFraction = 0.5; $0.testFraction = 0.5 }, "--split train is 0; it must be above 0"),
            ("--split validation", { $0.validationFraction = -0.15; $0.testFraction = 0.45 }, "--split validation is -0.15; it must be between 0 and 1"),
            ("--fine-tune-at", { $0.fineTuneAt = "-1" }, "--fine-tune-at is -1; it must be a layer index of at least 0, or a layer/block name"),
            ("reduce_lr_factor", { $0.reduceLRFactor = 1.5 }, "reduce_lr_factor is 1.5; it must be above 0 and below 1"),
            ("early_stopping_patience", { $0.earlyStoppingPatience = -1 }, "early_stopping_patience is -1; it must be between 0 and 10000"),
        ]
        for (option, change, message) in cases {
            let e = error(change)
            XCTAssertEqual(e?.option, option, message)
            XCTAssertEqual(e?.description, message)
        }
    }

    func testNonFiniteValuesAreRefusedByName() {
        XCTAssertEqual(error { $0.learningRate = .nan },
                       .notFinite(option: "--lr", value: "nan", allowed: "above 0 and at most 10"))
        XCTAssertEqual(error { $0.learningRate = .infinity }?.description,
                       "--lr is inf, not a finite number; it must be above 0 and at most 10")
        XCTAssertEqual(error { $0.head.dropout = .nan }?.option, "--dropout")
        XCTAssertEqual(error { $0.augmentation.zoom = -.infinity }?.description,
                       "--augment zoom is -inf, not a finite number; it must be between 0 and 1")
        XCTAssertEqual(error { $0.testFraction = .nan }?.option, "--split test")
        XCTAssertEqual(error { $0.alpha = .nan }?.option, "--alpha")
    }

    func testOtherBadSettingsSayWhy() {
        XCTAssertEqual(error { $0.epochsFeatureExtraction = 0; $0.epochsFineTuning = 0 }?.description,
                       "--epochs-fe and --epochs-ft: both 0 would save an untrained model; train at least one epoch in total")
        XCTAssertEqual(error { $0.backbone = "resnet18" }?.option, "--backbone")
        XCTAssertEqual(error { $0.backbone = "mobilenetv2"; $0.alpha = 0.6 }?.description,
                       "--alpha: 0.6 is not one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4")
        XCTAssertEqual(error { $0.alpha = 0.5 }?.option, "--alpha")   // Lite has no width multiplier
        XCTAssertEqual(error { $0.trainFraction = 0.7; $0.validationFraction = 0.2; $0.testFraction = 0.2 }?.option, "--split")
        XCTAssertEqual(error { $0.monitor = "val_f2" }?.option, "monitor")
        XCTAssertEqual(error { $0.weights = "" }?.option, "--weights")
    }

    /// A batch of huge images that cannot fit in this machine's memory is refused up front
    /// instead of the process being killed.
    func testTrainingThatCannotFitInMemoryIsRefused() throws {
        let e = error { $0.imageSize = 1024; $0.batchSize = 4096 }
        guard case let .tooMuchMemory(size, batch, count, estimated, available)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertNil(count)
        XCTAssertEqual(size, 1024)
        XCTAssertEqual(batch, 4096)
        XCTAssertGreaterThan(estimated, available)
        XCTAssertTrue(e!.description.contains("lower --image-size or --batch-size"), e!.description)
        // Decoded images count when their number is known: at 1024 px each takes 3 MB.
        let images = Int(Double(ProcessInfo.processInfo.physicalMemory) / (1024 * 1024 * 3)) + 1
        try base.validate(imageCount: 1000)
        XCTAssertThrowsError(try { var c = base; c.imageSize = 1024; c.batchSize = 1; try c.validate(imageCount: images) }()) {
            XCTAssertTrue("\($0)".contains("--batch-size 1 and \(images) images decoded at that size"), "\($0)")
        }
        // The default run's estimate is a few GB.
        let defaults = try XCTUnwrap(base.estimatedTrainingBytes())
        XCTAssertTrue((1e9...1e10).contains(defaults), "\(defaults)")
    }

    /// `--resume` compares the options given with the saved configuration, naming the first
    /// one that differs.
    func testResumeRefusesContradictingSettings() throws {
        let saved = base
        try saved.checkResumable(with: saved, run: "runs/a")
        var requested = saved
        requested.learningRate = 0.01
        XCTAssertThrowsError(try saved.checkResumable(with: requested, run: "runs/a")) { error in
            XCTAssertEqual(error as? ConfigError,
                           .contradictsRun(option: "--lr", given: "0.01", saved: "0.001", run: "runs/a"))
            XCTAssertTrue("\(error)".contains("runs/a was started with --lr 0.001"), "\(error)")
        }
        requested = saved
        requested.augmentation.zoom = 0.3
        XCTAssertThrowsError(try saved.checkResumable(with: requested, run: "r")) { error in
            XCTAssertEqual((error as? ConfigError)?.option, "--augment")
        }
    }

    /// The Swift API checks too: a bad configuration throws before the run folder is made.
    func testARunWithABadConfigurationWritesNothing() throws {
        let folder = Fixtures.temporaryDirectory("petal-badconfig").appendingPathComponent("run")
        var config = base
        config.threads = 0
        XCTAssertThrowsError(try TransferLearningRun(config: config, folder: folder, progress: ProgressReporter(style: .quiet))) {
            XCTAssertEqual(($0 as? ConfigError)?.option, "--threads")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path))
    }

    /// A resumed run checks its saved configuration too (one edited by hand, or written by an
    /// older Petal), and changes nothing when it is bad.
    func testResumingABadSavedConfigurationIsRefused() throws {
        let folder = Fixtures.temporaryDirectory("petal-resume-bad")
        var config = base
        config.threads = -3
        try PetalJSON.encode(config).writeAtomically(to: folder.appendingPathComponent("config.json"))
        try PetalJSON.encode(RunState()).writeAtomically(to: folder.appendingPathComponent("state.json"))
        // Petal's own lock file may appear; nothing else may change.
        func files() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != ".petal.lock" }.sorted()
        }
        let before = try files()
        XCTAssertThrowsError(try TransferLearningRun(resuming: folder, progress: ProgressReporter(style: .quiet))) { error in
            XCTAssertEqual("\(error)", "--threads is -3; it must be between 1 and 1024")
        }
        XCTAssertEqual(try files(), before)
    }
}
