import Foundation
import PetalCore
import PetalLayers
import PetalTraining
import XCTest

/// `--class-weight` and `--label-smoothing` in `TransferLearningConfig`: scikit-learn's
/// balanced weights, the checks naming the option, config.json with and without them.
final class LossOptionsTests: XCTestCase {
    /// scikit-learn 1.9.1: compute_class_weight("balanced", classes=[0, 1, 2], y=[0]*2 + [1]*7 + [2]*12)
    /// is [3.5, 1.0, 0.58333333] (n_samples / (n_classes * count)).
    func testBalancedWeightsAreScikitLearns() throws {
        var config = TransferLearningConfig(data: "/data")
        config.classWeight = .balanced
        let weighting = try config.lossWeighting(classNames: ["daisy", "rose", "tulip"], trainingCounts: [2, 7, 12])
        let weights = try XCTUnwrap(weighting.classWeights)
        for (mine, sklearn) in zip(weights, [3.5, 1.0, 0.58333333]) { XCTAssertEqual(Double(mine), sklearn, accuracy: 1e-6) }
        XCTAssertEqual(weighting.labelSmoothing, 0)
        XCTAssertThrowsError(try config.lossWeighting(classNames: ["daisy", "rose"], trainingCounts: [3, 0])) { error in
            XCTAssertTrue("\(error)".contains("--class-weight balanced") && "\(error)".contains("'rose' has no training images"), "\(error)")
        }
    }

    func testExplicitWeightsByNameOthersOne() throws {
        var config = TransferLearningConfig(data: "/data")
        config.classWeight = try ClassWeight(parsing: "tulip=2.5, daisy=0.5")
        config.labelSmoothing = 0.1
        let weighting = try config.lossWeighting(classNames: ["daisy", "rose", "tulip"], trainingCounts: [1, 1, 1])
        XCTAssertEqual(weighting, LossWeighting(classWeights: [0.5, 1, 2.5], labelSmoothing: 0.1))
        XCTAssertEqual(config.classWeight?.description, "daisy=0.5,tulip=2.5")
    }

    func testBadValuesNameTheOption() throws {
        func message(_ edit: (inout TransferLearningConfig) throws -> Void, classNames: [String]? = nil) -> String {
            var config = TransferLearningConfig(data: "/data")
            do {
                try edit(&config)
                try config.validate(classNames: classNames)
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(message({ $0.classWeight = try ClassWeight(parsing: "rose=2") }, classNames: ["daisy", "tulip"]),
                       "--class-weight: no class 'rose' in the data; its classes are daisy, tulip")
        XCTAssertEqual(message({ $0.classWeight = try ClassWeight(parsing: "rose=0") }),
                       "--class-weight rose is 0; it must be a finite number above 0")
        XCTAssertEqual(message({ $0.classWeight = try ClassWeight(parsing: "rose=-1") }),
                       "--class-weight rose is -1; it must be a finite number above 0")
        XCTAssertEqual(message({ $0.classWeight = try ClassWeight(parsing: "rose=nan") }),
                       "--class-weight rose is nan, not a finite number; it must be a finite number above 0")
        XCTAssertTrue(message({ $0.classWeight = try ClassWeight(parsing: "rose") }).hasPrefix("--class-weight: 'rose' is not class=weight"))
        XCTAssertEqual(message({ $0.labelSmoothing = 1 }), "--label-smoothing is 1; it must be at least 0 and below 1")
        XCTAssertEqual(message({ $0.labelSmoothing = -0.1 }), "--label-smoothing is -0.1; it must be at least 0 and below 1")
        XCTAssertEqual(message({ $0.labelSmoothing = .infinity }), "--label-smoothing is inf, not a finite number; it must be at least 0 and below 1")
        XCTAssertEqual(message({ $0.labelSmoothing = 0; $0.classWeight = .balanced }, classNames: ["a"]), "accepted")
    }

    /// Saved in config.json; a config.json from before the options reads as none and 0, and
    /// `--resume` compares them like every other option.
    func testConfigJSONRoundTripAndOlderFiles() throws {
        var config = TransferLearningConfig(data: "/data")
        config.classWeight = .balanced
        config.labelSmoothing = 0.1
        let json = String(decoding: try PetalJSON.encode(config), as: UTF8.self)
        XCTAssertTrue(json.contains("\"class_weight\" : \"balanced\"") && json.contains("\"label_smoothing\" : 0.1"), json)
        XCTAssertEqual(try PetalJSON.decode(TransferLearningConfig.self, from: Data(json.utf8)), config)
        config.classWeight = .explicit(["rose": 2])
        XCTAssertEqual(try PetalJSON.decode(TransferLearningConfig.self, from: try PetalJSON.encode(config)), config)

        var older = try JSONSerialization.jsonObject(with: try PetalJSON.encode(TransferLearningConfig(data: "/data"))) as! [String: Any]
        older["class_weight"] = nil
        older["label_smoothing"] = nil
        let read = try PetalJSON.decode(TransferLearningConfig.self, from: try JSONSerialization.data(withJSONObject: older))
        XCTAssertNil(read.classWeight)
        XCTAssertNil(read.labelSmoothing)
        var smoothed = read
        smoothed.labelSmoothing = 0.2
        XCTAssertThrowsError(try read.checkResumable(with: smoothed, run: "run")) { error in
            XCTAssertTrue("\(error)".hasPrefix("--label-smoothing 0.2 contradicts the run being resumed"), "\(error)")
        }
        smoothed.labelSmoothing = 0
        XCTAssertNoThrow(try read.checkResumable(with: smoothed, run: "run"), "0 and absent are the same setting")
    }
}
