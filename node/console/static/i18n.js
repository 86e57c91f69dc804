// Korean and English labels, and the formats the console shows: won with thousands separators,
// times in KST (Asia/Seoul), whatever the browser's own time zone.

const LABELS = {
  title: ["stoledger 감독 콘솔", "stoledger regulator's console"],
  network: ["네트워크", "Network"], blocks: ["블록", "Blocks"], block: ["블록", "Block"], tokens: ["토큰", "Tokens"],
  market: ["시장", "Market"], alerts: ["이상거래 경보", "Alerts"],
  access: ["열람 기록", "Access log"], proof: ["증명", "Proof"],
  load_key: ["키 파일 불러오기", "Load key file"], forget_key: ["키 지우기", "Forget key"],
  no_key: ["키 없음: 공개 정보만 표시", "No key loaded: public views only"],
  key_note: ["키는 이 페이지 메모리에만 있고 어디에도 전송되지 않습니다.",
    "The key stays in this page's memory; it is never sent anywhere."],
  node: ["노드", "Node"], role: ["역할", "Role"], height: ["높이", "Height"], view: ["뷰", "View"],
  primary: ["주 노드", "Primary"], peers: ["연결", "Peers"], ready: ["준비", "Ready"],
  mempool: ["대기 거래", "Mempool"], last_hash: ["최근 블록 해시", "Last block hash"],
  yes: ["예", "yes"], no: ["아니오", "no"], down: ["응답 없음", "down"],
  all_at_height: ["모든 노드 높이", "All nodes at height"],
  heights_differ: ["노드 높이가 다릅니다", "Nodes are at different heights"],
  live_blocks: ["실시간 블록", "Live blocks"], stream_live: ["실시간 연결", "stream live"],
  stream_down: ["스트림 끊김", "stream down"],
  stream_needs_key: ["실시간 스트림은 키가 필요합니다", "The live stream needs a key"],
  commit_rate: ["커밋 속도 (tx/s)", "Commit rate (tx/s)"],
  latency: ["평균 커밋 지연 (ms)", "Mean commit latency (ms)"],
  time: ["시각 (KST)", "Time (KST)"], proposer: ["제안자", "Proposer"], txs: ["거래 수", "Txs"],
  hash: ["해시", "Hash"], newer: ["최신", "Newer"], older: ["이전", "Older"],
  certificate: ["커밋 인증서", "Commit certificate"],
  cert_valid: ["인증서 유효", "Certificate valid"], cert_invalid: ["인증서 무효", "Certificate INVALID"],
  txs_match: ["거래 목록과 서명이 tx_root와 일치", "Transactions and signatures match tx_root"],
  txs_mismatch: ["거래 목록이 tx_root와 불일치", "Transactions do NOT match tx_root"],
  signed_by: ["서명한 운영자", "Signed by"], operator: ["운영자", "Operator"],
  vote: ["투표", "Vote"], valid: ["유효", "valid"], invalid: ["무효", "invalid"],
  transactions: ["거래", "Transactions"], sender: ["발신자", "Sender"],
  call: ["호출", "Call"], args: ["인자", "Arguments"], result: ["결과", "Result"],
  ok: ["성공", "ok"], rejected: ["거부", "rejected"], events: ["이벤트", "Events"],
  header: ["헤더", "Header"], back: ["목록으로", "Back to the list"],
  symbol: ["종목", "Symbol"], find_tokens: ["토큰 찾기", "Find tokens"],
  cap_table: ["주주명부", "Cap table"], at_height: ["기준 높이", "As of height"],
  account: ["계좌", "Account"], balance: ["잔고", "Balance"], frozen: ["동결", "Frozen"],
  locked: ["보호예수", "Locked"], share: ["지분율", "Share"], holders: ["보유자 수", "Holders"],
  outstanding: ["유통 수량", "Outstanding"], supply: ["총량 관리 대사", "Supply reconciliation"],
  cap: ["발행 한도", "Cap"], issued: ["발행", "Issued"], redeemed: ["상환", "Redeemed"],
  sum_balances: ["잔고 합계", "Sum of balances"], max_supply: ["최대 발행량", "Max supply"],
  reconciles: ["대사 일치", "Reconciles"], history: ["거래 이력", "History"],
  my_holdings: ["내 보유 현황", "My holdings"], cash: ["예금토큰 (원)", "Cash (KRW)"],
  escrowed: ["예치", "Escrowed"], available: ["가용", "Available"],
  not_allowed: ["허용되지 않음", "Not allowed"],
  not_allowed_role: ["이 화면은 현재 키의 역할로 볼 수 없습니다", "This page is not allowed for this key's role"],
  needs_key: ["이 화면은 서명된 요청이 필요합니다. 키 파일을 불러오세요.",
    "This page needs signed requests: load a key file."],
  order_book: ["호가", "Order book"], bids: ["매수", "Bids"], asks: ["매도", "Asks"],
  price: ["가격 (원)", "Price (KRW)"], qty: ["수량", "Qty"], trades: ["체결", "Trades"],
  last_price: ["현재가", "Last price"], reference_price: ["기준가", "Reference price"],
  day_volume: ["거래량", "Day volume"], band: ["가격 제한폭", "Price band"],
  halted: ["거래 정지", "Halted"], open: ["장 운영", "Open"],
  price_volume: ["가격과 거래량", "Price and volume"], buyer: ["매수자", "Buyer"],
  seller: ["매도자", "Seller"], orders: ["주문", "Orders"], side: ["구분", "Side"],
  status: ["상태", "Status"], code: ["취소 사유", "Cancel code"], media: ["매체", "Media"], origin: ["접속지", "Origin"],
  market_missing: ["이 체인에는 market 계약이 없습니다 (시장 기능 미배포).",
    "This chain has no market contract (secondary trading is not deployed)."],
  route_missing: ["이 노드는 아직 이 경로를 제공하지 않습니다", "This node does not serve this route yet"],
  rule: ["규칙", "Rule"], severity: ["심각도", "Severity"], accounts: ["계좌", "Accounts"],
  window: ["기간", "Window"], explanation: ["설명", "Explanation"], evidence: ["증거", "Evidence"],
  metrics: ["지표", "Metrics"], metric: ["지표", "Metric"], value: ["값", "Value"], filter: ["필터", "Filter"], apply: ["적용", "Apply"],
  no_alerts: ["경보 없음", "No alerts"], from_h: ["시작 높이", "From height"],
  to_h: ["끝 높이", "To height"], alerts_missing: ["경보 경로(/v1/audit/alerts)가 이 노드에 없습니다.",
    "The alerts route (/v1/audit/alerts) is not on this node."],
  seq: ["번호", "Seq"], method: ["메서드", "Method"], path: ["경로", "Path"], more: ["더 보기", "More"],
  download_proof: ["블록 증명 내려받기", "Download block proof"],
  verify_file: ["증명 파일 검증 (오프라인)", "Verify a proof file (offline)"],
  genesis_file: ["제네시스 파일 (선택: 없으면 노드의 제네시스)", "Genesis file (optional: else the node's genesis)"],
  proof_valid: ["증명 유효", "Proof valid"], proof_invalid: ["증명 무효", "Proof INVALID"],
  requests: ["요청/초", "requests/s"], loading: ["불러오는 중…", "Loading…"],
  tx_id: ["거래 ID", "Tx id"], contract: ["계약", "Contract"], none: ["없음", "none"],
  checked_against: ["다음 제네시스로 검증", "Checked against genesis"],
  the_node: ["노드 제공", "served by the node"], uploaded: ["업로드한 파일", "uploaded file"],
  latest: ["최신", "latest"],
  holds: ["지급정지·거래정지 (FDS)", "Holds (FDS)"], holds_of_accounts: ["이 계좌들의 모든 정지", "Every hold on these accounts"],
  scope: ["범위", "Scope"], placed_by: ["정지한 곳", "Placed by"], released_by: ["해제한 곳", "Released by"],
  reason: ["사유", "Reason"], hold_active: ["정지 중", "active"], hold_released: ["해제됨", "released"],
  no_holds: ["정지 없음", "no holds"],
  offerings: ["공모", "Offerings"], offering: ["공모", "Offering"], offered: ["모집 수량 × 가격", "Offered × price"],
  per_subscriber: ["1인 청약 한도", "Per subscriber"], equal_pool: ["균등배정 물량", "Equal pool"],
  subscribed: ["청약 수량", "Subscribed"], subscribers: ["청약자", "subscribers"],
  allocated: ["배정", "Allocated"], refunded: ["환불", "Refunded"], book: ["청약 내역과 배정", "Book of subscriptions and allocation"],
  subscriber: ["청약자", "Subscriber"], broker: ["증권사", "Broker"], asked: ["청약", "Asked"],
  equal_share: ["균등배정", "Equal share"], pro_rata_share: ["비례배정", "Pro-rata share"],
  total: ["합계", "Total"], no_offerings: ["이 종목의 공모가 없습니다", "No offering of this token"],
  draw_note: ["행 순서는 추첨 순서(sha256(공모 ID ‖ 계좌))이며, 균등배정 잔여분과 동점 단수는 이 순서로 배정됩니다.",
    "Rows are in draw order (sha256(offering id ‖ account)): the equal pool's remaining units and tied remainders go in this order."],
  st_scheduled: ["청약 전", "scheduled"], st_open: ["청약 중", "open"], st_closed: ["청약 마감", "closed"],
  st_allocating: ["배정 중", "allocating"], st_allocated: ["배정 완료", "allocated"], st_cancelled: ["공모 철회", "cancelled"],
  redemption: ["상환", "Redemption"], record_height: ["기준일 높이", "Record height"], holder: ["보유자", "Holder"],
  tax_class: ["과세 구분", "Tax class"], units: ["수량", "Units"], gross: ["총액", "Gross"], gain: ["차익", "Gain"],
  withheld: ["원천징수", "Withheld"], net: ["지급액", "Net"],
  owner_links: ["한 소유자로 본 연결", "Links that made one owner"], link_kind: ["연결 종류", "Link"],
  via: ["근거", "Via"], version: ["판", "Version"], price_effect: ["가격 영향", "Price effect"],
  link_origin: ["같은 접속지(기기)", "shared device (origin)"],
  link_transfer: ["장외 이체", "transfer outside the market"],
  link_recover: ["키 복구", "key recovery"],
};

let lang = localStorage.getItem("stoledger.lang") || "ko";

export function language() { return lang; }

export function setLanguage(value) {
  lang = value;
  localStorage.setItem("stoledger.lang", value);
  document.documentElement.lang = value;
}

export function t(key) {
  const entry = LABELS[key];
  if (!entry) return key;
  return entry[lang === "ko" ? 0 : 1];
}

const numbers = new Intl.NumberFormat("en-US");

export function num(value) {
  if (value === null || value === undefined || value === "") return "–";
  return numbers.format(typeof value === "string" ? BigInt(value) : value);
}

export function won(value) {
  if (value === null || value === undefined) return "–";
  return `₩${num(value)}`;
}

const kst = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

export function time(ms) {
  if (ms === null || ms === undefined) return "–";
  return `${kst.format(new Date(Number(ms)))} KST`;
}

// A duration in whole units, largest first: "1 d", "1 min 30 s", "94 ms" (node/clock.py
// writes the same for the CLI).
const UNITS = [["d", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1_000], ["ms", 1]];

export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  let rest = Math.abs(Number(ms));
  const parts = [];
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count) parts.push(`${count} ${unit}`);
  }
  return `${ms < 0 ? "-" : ""}${parts.join(" ") || "0 ms"}`;
}

export function bps(value) {
  return `${(value / 100).toFixed(2)}%`;
}
