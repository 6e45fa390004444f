import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../functions/adapters/table-design';

export interface FleetTableProps {
  /**
   * What happens to the table (and every record of fleet state, budgets, leases and history
   * in it) when the stack is deleted or the table replaced.
   * @default RemovalPolicy.RETAIN, with deletion protection on
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The fleet-state table: one DynamoDB table for instances, services and budgets, changes and
 * plans, leases, freezes, findings and the audit trail (single-table design: `pk`, `sk`).
 * Point-in-time recovery and encryption at rest are always on; keys and indexes come from
 * functions/adapters/table-design.ts, which `fleetops store init` uses too.
 */
export class FleetTable extends Construct {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: FleetTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    for (const index of INDEXES) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      });
    }
    this.table = table;
  }
}
