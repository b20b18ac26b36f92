import Foundation
import PetalCore
import PetalTestSupport
import PetalTraining
import PetalWeights
import XCTest

/// `mpirun -np 2 petal train` as a user runs it, against one process: two ranks with batch B
/// train the same model as one process with batch 2B (augmentation off; dropout on, its masks
/// aligned), with the same history. Skipped, visibly, where mpirun is absent.
final class DataParallelTests: XCTestCase {
    private var work: URL!
    private var data: URL!

    override func setUpWithError() throws {
        guard let _ = MPIRun.executable else {
            throw XCTSkip("mpirun not found (install openmpi-bin, as scripts/setup.sh does): data-parallel tests skipped")
        }
        work = Fixtures.temporaryDirectory("petal-mpi")
        data = work.appendingPathComponent("data")
        // 3 classes of 11 images: 23 train images make global batches of 8, 8 and 7 (shares 4/3).
        for (c, name) in ["a", "b", "c"].enumerated() {
            _ = try TinyModels.files(in: data.appendingPathComponent(name), count: 11, seed: UInt64(100 * c + 1))
        }
    }

    override func tearDown() { if let work { try? FileManager.default.removeItem(at: work) } }

    private func options(_ out: URL, batch: Int, epochsFE: Int = 3, epochsFT: Int = 2) -> [String] {
        ["train", data.path, "--out", out.path, "--backbone", "mobilenetv2", "--alpha", "0.35", "--weights", "none",
         "--image-size", "32", "--batch-size", String(batch), "--epochs-fe", String(epochsFE),
         "--epochs-ft", String(epochsFT), "--fine-tune-at", "100", "--augment", "none", "--seed", "7",
         "--threads", "1", "--quiet"]
    }

    func testTwoRanksTrainAsOneProcessWithTheDoubleBatch() throws {
        let single = work.appendingPathComponent("single"), parallel = work.appendingPathComponent("parallel")
        let one = try PetalProcess.run(options(single, batch: 8))
        XCTAssertEqual(one.status, 0, one.output)
        let two = try MPIRun.run(ranks: 2, options(parallel, batch: 4))
        XCTAssertEqual(two.status, 0, two.output)
        // Rank 0 alone prints (the run folder, as one process does).
        XCTAssertEqual(two.stdout, parallel.path + "\n", two.output)

        try assertSameModel(parallel, single)
        try assertSameHistory(parallel, single)
        // The sharded test evaluation, put together: the same predictions for the same files.
        let p1 = try JSONSerialization.jsonObject(with: Data(contentsOf: single.appendingPathComponent("metrics.json"))) as? [String: Any]
        let p2 = try JSONSerialization.jsonObject(with: Data(contentsOf: parallel.appendingPathComponent("metrics.json"))) as? [String: Any]
        XCTAssertEqual(p1?["accuracy"] as? Double, p2?["accuracy"] as? Double)
        XCTAssertEqual(p1?["support"] as? Int, p2?["support"] as? Int)
        XCTAssertEqual(try String(contentsOf: single.appendingPathComponent("split.json"), encoding: .utf8),
                       try String(contentsOf: parallel.appendingPathComponent("split.json"), encoding: .utf8))
    }

    /// Killing one rank ends the job (no hang) with mpirun's message, leaving the run resumable;
    /// `--resume` under mpirun then finishes it as one process resuming the same checkpoint with
    /// the double batch does. (A resumed run is not an uninterrupted one, even alone: dropout's
    /// stream and EarlyStopping's best weights start afresh.)
    func testAKilledRankEndsTheJobAndResumeUnderMPIMatchesOneProcess() throws {
        let parallel = work.appendingPathComponent("parallel"), single = work.appendingPathComponent("single")
        let started = Date()
        let killed = try MPIRun.run(ranks: 2, options(parallel, batch: 4, epochsFE: 30, epochsFT: 2), killRank: 1) {
            let state = try? RunFolder(parallel).read(RunState.self, from: .state)
            return (state?.nextEpoch ?? 0) >= 1
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 120, "mpirun took too long to end the job")
        XCTAssertNotEqual(killed.status, 0, killed.output)
        XCTAssertTrue(killed.stderr.contains("rank 1") && killed.stderr.contains("signal 9"), killed.output)
        let state = try RunFolder(parallel).read(RunState.self, from: .state)
        XCTAssertFalse(state.isFinished, "the run finished before a rank was killed: \(killed.output)")
        guard !state.isFinished else { return }

        // The same checkpoint for one process, whose batch is the two ranks' global batch.
        try FileManager.default.copyItem(at: parallel, to: single)
        let configURL = RunFolder(single).url(.config)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        config["batch_size"] = 8
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)

        let resumed = try MPIRun.run(ranks: 2, ["train", "--resume", parallel.path, "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let alone = try PetalProcess.run(["train", "--resume", single.path, "--quiet"])
        XCTAssertEqual(alone.status, 0, alone.output)
        try assertSameModel(parallel, single)
        try assertSameHistory(parallel, single)
    }

    func testRank0ReportsABadOutputFolderAndEveryRankEnds() throws {
        let mine = work.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: mine.appendingPathComponent("notes.txt"))
        let result = try MPIRun.run(ranks: 2, options(mine, batch: 4))
        XCTAssertNotEqual(result.status, 0, result.output)
        let reports = result.stderr.components(separatedBy: "petal train: ").count - 1
        XCTAssertEqual(reports, 1, "one report, by rank 0: \(result.output)")
        XCTAssertTrue(result.stderr.contains("not a Petal run") || result.stderr.contains("notes.txt"), result.output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mine.path), ["notes.txt"])
    }

    /// `petal predict` and `petal evaluate` under mpirun: each rank classifies its block of the
    /// files; rank 0 prints one result, the same as one process prints.
    func testPredictAndEvaluateUnderMPIPrintOneProcesssResult() throws {
        let model = try TinyModels.model(in: work)
        let images = try TinyModels.files(in: work.appendingPathComponent("images"), count: 7).map(\.path)
        let broken = work.appendingPathComponent("images/broken.jpg")
        try Data("not a picture".utf8).write(to: broken)
        let predict = ["predict", "--json", model.path] + images + [broken.path]
        let one = try PetalProcess.run(predict), two = try MPIRun.run(ranks: 2, predict)
        XCTAssertEqual(one.status, 1, one.output)   // the broken file
        XCTAssertNotEqual(two.status, 0, two.output)
        XCTAssertEqual(two.stdout, one.stdout, two.output)
        XCTAssertTrue(one.stdout.contains("broken.jpg"), one.output)

        // Classes a, b, c of 3 images each (with the model's classes).
        let folder = work.appendingPathComponent("labelled")
        for (k, name) in ["a", "b", "c"].enumerated() {
            _ = try TinyModels.files(in: folder.appendingPathComponent(name), count: 3, seed: UInt64(10 * k + 3))
        }
        let evaluate = ["evaluate", model.path, folder.path, "--json"]
        let alone = try PetalProcess.run(evaluate), together = try MPIRun.run(ranks: 2, evaluate)
        XCTAssertEqual(alone.status, 0, alone.output)
        XCTAssertEqual(together.status, 0, together.output)
        XCTAssertEqual(together.stdout, alone.stdout, together.output)
        XCTAssertTrue(alone.stdout.contains("\"support\""), alone.output)
    }

    // MARK: - Comparisons

    /// Every tensor of the final models within 1e-5 of its largest value.
    private func assertSameModel(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try SafetensorsFile.read(a.appendingPathComponent("model.safetensors")).tensors
        let y = try SafetensorsFile.read(b.appendingPathComponent("model.safetensors")).tensors
        XCTAssertEqual(Set(x.keys), Set(y.keys), file: file, line: line)
        var worst = (name: "", ratio: 0.0)
        for (name, t) in x {
            guard let u = y[name] else { continue }
            let p = try t.rowMajor().floats, q = try u.rowMajor().floats
            XCTAssertEqual(p.count, q.count, name, file: file, line: line)
            var difference: Float = 0, scale: Float = 0
            for i in 0..<min(p.count, q.count) { difference = max(difference, abs(p[i] - q[i])); scale = max(scale, abs(q[i])) }
            let ratio = Double(difference / max(scale, 1e-12))
            if ratio > worst.ratio { worst = (name, ratio) }
        }
        XCTAssertLessThanOrEqual(worst.ratio, 1e-5, "largest relative difference in \(worst.name)", file: file, line: line)
    }

    private func assertSameHistory(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try RunFolder(a).read(TrainingHistory.self, from: .history)
        let y = try RunFolder(b).read(TrainingHistory.self, from: .history)
        XCTAssertEqual(x.epochs.count, y.epochs.count, file: file, line: line)
        XCTAssertEqual(x.fineTuningStartEpoch, y.fineTuningStartEpoch, file: file, line: line)
        func close(_ u: Double?, _ v: Double?) -> Bool {
            guard let u, let v else { return u == nil && v == nil }
            return abs(u - v) <= 1e-5 * max(abs(v), 1e-6)
        }
        for (e, f) in zip(x.epochs, y.epochs) {
            XCTAssertEqual(e.phase, f.phase, file: file, line: line)
            XCTAssertEqual(e.accuracy, f.accuracy, "epoch \(e.epoch)", file: file, line: line)
            XCTAssertEqual(e.validationAccuracy, f.validationAccuracy, "epoch \(e.epoch)", file: file, line: line)
            XCTAssertEqual(e.learningRate, f.learningRate, "epoch \(e.epoch)", file: file, line: line)
            XCTAssertTrue(close(e.loss, f.loss), "epoch \(e.epoch) loss \(e.loss) vs \(f.loss)", file: file, line: line)
            XCTAssertTrue(close(e.validationLoss, f.validationLoss), "epoch \(e.epoch) val_loss", file: file, line: line)
        }
    }
}
