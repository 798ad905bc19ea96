import Face
import Foundation
import Pipelines
import TestSupport
import XCTest

/// The released layouts of LRS2, LRS3, VoxCeleb2 and GRID, with their real file names, list
/// files and side-file formats, made of demo-corpus clips.
final class DatasetLayoutTests: XCTestCase {
    private func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    func testLRS2MainAndPretrainWithListsTagsAndTranscripts() throws {
        let s = ScratchDir("lrs2"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/main/5535415699068794046/00001.mp4")
        try DemoClips.place(1, at: "\(root)/main/5535415699068794046/00002.mp4")
        try DemoClips.place(2, at: "\(root)/main/6300370419826092098/00001.mp4")
        try DemoClips.place(3, at: "\(root)/main/6331559613336179781/00004.mp4")  // in no list: skipped
        try DemoClips.place(4, at: "\(root)/pretrain/5535415699068794046/00003.mp4")
        try DemoClips.place(5, at: "\(root)/pretrain/6300370419826092098/00002.mp4")  // not in pretrain.txt: skipped
        try write("Text:  THE FIRST THING\nConf:  4\n", "\(root)/main/5535415699068794046/00001.txt")
        try write("Text:  WE KNOW\nConf:  6\n", "\(root)/main/6300370419826092098/00001.txt")
        try write("Text:  WHEN YOU LOOK\nConf:  3\n\nWORD START END ASDSCORE\nWHEN 0.11 0.25 1.9\nYOU 0.25 0.40 2.4\nLOOK 0.40 0.71 3.0\n",
                  "\(root)/pretrain/5535415699068794046/00003.txt")
        try write("5535415699068794046/00001\n", "\(root)/train.txt")
        try write("5535415699068794046/00002\n", "\(root)/val.txt")
        try write("6300370419826092098/00001 NF\n", "\(root)/test.txt")
        try write("5535415699068794046/00003\n", "\(root)/pretrain.txt")
        var options = LRS2Options()
        options.sets = ["main", "pretrain"]
        let items = try AdapterSpec.lrs2(options).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["main/5535415699068794046/00001", "main/5535415699068794046/00002",
                                         "main/6300370419826092098/00001", "pretrain/5535415699068794046/00003"])
        XCTAssertEqual(items.map(\.split), ["train", "val", "test", "pretrain"])
        XCTAssertEqual(items.map(\.speaker), ["5535415699068794046", "5535415699068794046", "6300370419826092098", "5535415699068794046"])
        XCTAssertEqual(items[0].metadata, ["text": "THE FIRST THING", "conf": "4"])
        XCTAssertEqual(items[1].metadata, [:])
        XCTAssertEqual(items[2].metadata, ["text": "WE KNOW", "conf": "6", "tag": "NF"])
        XCTAssertEqual(items[3].metadata, ["text": "WHEN YOU LOOK", "conf": "3",
                                           "words": "WHEN 0.11 0.25 1.9\nYOU 0.25 0.40 2.4\nLOOK 0.40 0.71 3.0"])
        // Without pretrain.txt every pretrain clip is taken.
        try FileManager.default.removeItem(atPath: "\(root)/pretrain.txt")
        XCTAssertEqual(try AdapterSpec.lrs2(options).list(root: root).items.filter { $0.split == "pretrain" }.map(\.id),
                       ["pretrain/5535415699068794046/00003", "pretrain/6300370419826092098/00002"])
    }

    func testLRS3SetsSpeakersAndTranscripts() throws {
        let s = ScratchDir("lrs3"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/trainval/0af00UcTOSc/50001.mp4")
        try DemoClips.place(1, at: "\(root)/trainval/0af00UcTOSc/50002.mp4")
        try DemoClips.place(2, at: "\(root)/test/0Fi83BHQsMA/00002.mp4")
        try DemoClips.place(3, at: "\(root)/pretrain/00j9bKdiOjk/00001.mp4")
        try write("Text:  SO I WENT\nConf:  3\nRef:   https://www.youtube.com/watch?v=0af00UcTOSc\n\nWORD START END ASDSCORE\n"
                  + "SO 0.11 0.25 1.9\nI 0.25 0.30 2.1\nWENT 0.30 0.62 4.4\n", "\(root)/trainval/0af00UcTOSc/50001.txt")
        let items = try AdapterSpec.lrs3(LRS3Options()).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["test/0Fi83BHQsMA/00002", "trainval/0af00UcTOSc/50001", "trainval/0af00UcTOSc/50002"])
        XCTAssertEqual(items.map(\.split), ["test", "train", "train"])
        XCTAssertEqual(items.map(\.speaker), ["0Fi83BHQsMA", "0af00UcTOSc", "0af00UcTOSc"])
        XCTAssertEqual(items[1].metadata, ["text": "SO I WENT", "conf": "3", "ref": "https://www.youtube.com/watch?v=0af00UcTOSc",
                                           "words": "SO 0.11 0.25 1.9\nI 0.25 0.30 2.1\nWENT 0.30 0.62 4.4"])
        var options = LRS3Options()
        options.sets = ["pretrain"]
        XCTAssertEqual(try AdapterSpec.lrs3(options).list(root: root).items.map(\.split), ["pretrain"])
    }

    func testVoxCeleb2SpeakersSplitsAndFrameHints() throws {
        let s = ScratchDir("vox2"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/dev/mp4/id00012/21Uxsk56VDQ/00001.mp4")
        try DemoClips.place(1, at: "\(root)/dev/mp4/id00012/2DLq_Kkc1r8/00016.mp4")
        try DemoClips.place(2, at: "\(root)/test/mp4/id00017/01dfn2spqyE/00001.mp4")
        try write("Identity  : \tid00012\nReference : \t21Uxsk56VDQ\nOffset    : \t1\nFV Conf   : \t16.647\t(1)\nASD Conf  : \t4.465\n\n"
                  + "FRAME \tX \tY \tW \tH \n000064 \t0.490 \t0.175 \t0.225 \t0.401 \n000065 \t0.491 \t0.176 \t0.224 \t0.400 \n",
                  "\(root)/dev/txt/id00012/21Uxsk56VDQ/00001.txt")
        let items = try AdapterSpec.voxceleb2(VoxCeleb2Options()).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["dev/id00012/21Uxsk56VDQ/00001", "dev/id00012/2DLq_Kkc1r8/00016", "test/id00017/01dfn2spqyE/00001"])
        XCTAssertEqual(items.map(\.source), ["dev/mp4/id00012/21Uxsk56VDQ/00001.mp4", "dev/mp4/id00012/2DLq_Kkc1r8/00016.mp4",
                                             "test/mp4/id00017/01dfn2spqyE/00001.mp4"])
        XCTAssertEqual(items.map(\.speaker), ["id00012", "id00012", "id00017"])
        XCTAssertEqual(items.map(\.split), ["train", "train", "test"])
        XCTAssertEqual(items[0].metadata, ["identity": "id00012", "reference": "21Uxsk56VDQ", "offset": "1",
                                           "fv_conf": "16.647\t(1)", "asd_conf": "4.465",
                                           "frames": "000064 0.490 0.175 0.225 0.401\n000065 0.491 0.176 0.224 0.400"])
        XCTAssertEqual(items[2].metadata, [:])
    }

    /// VoxCeleb2's `FRAME X Y W H` rows lead the face stage (in a worker process) to the face
    /// they box: on a clip of two demo faces side by side (left 256 px, right 192 px high), the
    /// rows boxing the RIGHT face make it the cropped one; rows boxing an empty corner, or no
    /// `.txt`, leave the largest (left) face. The crops' landmarks tell which face was taken.
    func testVoxCeleb2FrameBoxesChooseTheFaceToCrop() throws {
        let s = ScratchDir("vox2-hints"), root = s.path("data"), out = s.path("out"), manifest = s.path("vox2.yaml")
        let clips = try DemoClips.clips()
        let video = "\(root)/dev/mp4/id00012/21Uxsk56VDQ"
        try FileManager.default.createDirectory(atPath: video, withIntermediateDirectories: true)
        // 448 × 256: the left face (about 94 × 131 px) at x 0…256, the right one (about 61 × 77 px,
        // centre near x 389, y 94) at x 256…448, black below it.
        try ffmpeg(["-i", clips[0], "-i", clips[3], "-filter_complex",
                    "[0:v]scale=256:256[l];[1:v]pad=192:256:0:0[r];[l][r]hstack=inputs=2,format=yuv420p[v]",
                    "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "\(video)/00001.mp4"])
        for n in ["00002", "00003"] { try FileManager.default.copyItem(atPath: "\(video)/00001.mp4", toPath: "\(video)/\(n).mp4") }
        // As VoxCeleb2 writes them: FRAME on the original video's timeline, boxes as fractions.
        func side(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> String {
            let rows = (0..<100).map { String(format: "%06d \t%.3f \t%.3f \t%.3f \t%.3f ", 245 + $0, x, y, w, h) }
            return "Identity  : \tid00012\nReference : \t21Uxsk56VDQ\nOffset    : \t0\nFV Conf   : \t9.1\t(0)\nASD Conf  : \t3.2\n\n"
                + "FRAME \tX \tY \tW \tH \n" + rows.joined(separator: "\n") + "\n"
        }
        try write(side(340 / 448, 40 / 256, 100 / 448, 110 / 256), "\(root)/dev/txt/id00012/21Uxsk56VDQ/00001.txt")
        try write(side(270 / 448, 200 / 256, 170 / 448, 50 / 256), "\(root)/dev/txt/id00012/21Uxsk56VDQ/00002.txt")
        try "dataset: voxceleb2\nadapter: {kind: voxceleb2, options: {sets: [dev]}}\n"
            .appending("stages: [decode: {}, face: {detector: cnn}, mel: {}, align: {}, shard: {}]\nworkers: 1\n")
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        try Fixture.preprocess(manifest, data: root, out: out)
        let script = s.path("landmarks.py")
        try """
            import sys, json, sqlite3, os
            import h5py, numpy as np
            out = sys.argv[1]
            db = sqlite3.connect(os.path.join(out, "ledger.sqlite"))
            xs = {}
            for item, shard, first, count in db.execute("SELECT item_id, shard_file, first_row, row_count FROM item_rows"):
                l = h5py.File(os.path.join(out, "shards", shard), "r")["landmarks5"][first:first + count]
                xs.setdefault(item, []).append(l[:, :, 0])
            print(json.dumps({k: [float(np.concatenate(v).min()), float(np.concatenate(v).max())] for k, v in xs.items()}))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let ranges = try JSONSerialization.jsonObject(with: Data(try runPython(script, [out]).utf8)) as! [String: [Double]]
        print("voxceleb2 hints test: landmark x range per item \(ranges)")
        let id = "dev/id00012/21Uxsk56VDQ/"
        XCTAssertEqual(Set(ranges.keys), [id + "00001", id + "00002", id + "00003"])
        XCTAssertGreaterThan(try XCTUnwrap(ranges[id + "00001"])[0], 256, "the boxed right face")
        XCTAssertLessThan(try XCTUnwrap(ranges[id + "00002"])[1], 256, "a box on no face: the largest")
        XCTAssertLessThan(try XCTUnwrap(ranges[id + "00003"])[1], 256, "no boxes: the largest")
    }

    /// The rows' conversion: the clip's frame counted from the first row, fractions scaled to the
    /// frame, pixels kept, boxes cut to the frame (and left out when outside it); a bad row is an
    /// input error naming the `.txt` file when the dataset is listed.
    func testDetectionHintRowsConvertToFramePixels() throws {
        let fractions = ["frames": "000245 0.500 0.250 0.250 0.500\n000247 0.875 -0.125 0.250 0.375"]
        XCTAssertEqual(try DetectionHints.boxes(fractions, width: 400, height: 200, file: "a.mp4"),
                       [0: Box(x: 200, y: 50, width: 100, height: 100), 2: Box(x: 350, y: 0, width: 50, height: 50)])
        let pixels = ["frames": "10 12 20 30 40\n11 500 20 30 40"]
        XCTAssertEqual(try DetectionHints.boxes(pixels, width: 400, height: 200, file: "a.mp4"), [0: Box(x: 12, y: 20, width: 30, height: 40)])
        XCTAssertEqual(try DetectionHints.boxes(["text": "HELLO"], width: 400, height: 200, file: "a.mp4"), [:])
        let s = ScratchDir("vox2-bad-rows"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/dev/mp4/id00012/21Uxsk56VDQ/00001.mp4")
        let txt = "\(root)/dev/txt/id00012/21Uxsk56VDQ/00001.txt"
        try write("Identity  : \tid00012\n\nFRAME \tX \tY \tW \tH \n000064 \t0.490 \t0.175 \t0.225 \n", txt)
        XCTAssertThrowsError(try AdapterSpec.voxceleb2(VoxCeleb2Options()).list(root: root)) {
            XCTAssertEqual("\($0)", "\(txt): frame box row 1: expected 'FRAME X Y W H' (W, H > 0), got '000064 0.490 0.175 0.225'")
        }
    }

    /// GRID: MPEG-2 `.mpg` videos, `.align` word timings; the metadata reaches the ledger and
    /// `cals status --item`; a split by named test speaker reaches `cals status` and the
    /// trainers' default held-out speakers.
    func testGRIDAlignmentsReachTheLedger() throws {
        let s = ScratchDir("grid"), root = s.path("data"), out = s.path("out"), manifest = s.path("grid.yaml")
        try DemoClips.place(0, at: "\(root)/s1/bbaf2n.mpg")
        try DemoClips.place(3, at: "\(root)/s2/lgwm5a.mpg")
        try write("0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 100000 sil\n", "\(root)/alignments/s1/bbaf2n.align")
        let items = try AdapterSpec.grid(GRIDOptions()).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["s1/bbaf2n", "s2/lgwm5a"])
        XCTAssertEqual(items.map(\.speaker), ["s1", "s2"])
        let words = "sil 0.000 0.950\nbin 0.950 1.180\nblue 1.180 1.360\nsil 1.360 4.000"
        XCTAssertEqual(items[0].metadata, ["text": "bin blue", "words": words])
        XCTAssertEqual(items[1].metadata, [:])

        try "dataset: grid\nadapter: {kind: grid}\nsplit: {test_speakers: [s2]}\nstages: [decode: {}, face: {}, mel: {}, align: {}, shard: {}]\nworkers: 1\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        try Fixture.preprocess(manifest, data: root, out: out)
        XCTAssertEqual(try LedgerReader(outFolder: out).items()["s1/bbaf2n"]?.metadata, ["text": "bin blue", "words": words])
        XCTAssertEqual(try LedgerReader(outFolder: out).testSpeakers(), ["s2"])
        let summary = try Fixture.cals(["status", "--out", out])
        XCTAssertTrue(summary.stdout.contains("\nsplits: test 1 items / 1 speakers, train 1 items / 1 speakers\n"), summary.stdout)
        let status = try Fixture.cals(["status", "--out", out, "--item", "s1/bbaf2n"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("  speaker s1  split train\n"), status.stdout)
        XCTAssertTrue(status.stdout.contains("    text: bin blue\n    words: (4 rows)\n      sil 0.000 0.950\n"), status.stdout)
        // A changed alignment updates the metadata without re-processing the item.
        try write("0 23750 sil\n23750 29500 bin\n", "\(root)/alignments/s1/bbaf2n.align")
        XCTAssertTrue(try Fixture.preprocess(manifest, data: root, out: out).contains("processed 0, up to date 2"))
        XCTAssertEqual(try LedgerReader(outFolder: out).items()["s1/bbaf2n"]?.metadata["text"], "bin")
    }
}
